"""An in-process Telegram double for driving the real aiogram application in tests and demos.

Public API::

    sandbox = Sandbox(token=..., clock=time.monotonic, flood=FloodLimits(...) | None)
    bot = sandbox.create_bot()                  # Bot(token, session=SandboxSession(sandbox))
    sandbox.attach(dispatcher, bot)             # user actions await dispatcher.feed_update(...)
    anna = sandbox.user(user_id=1, first_name="Анна", phone="+79990000001")

    await anna.send("/start")                   # text; commands carry a bot_command entity
    await anna.press("Далее")                   # inline (newest message first) or reply button
    await anna.share_contact()                  # own contact (user_id set) or own=False
    await anna.send_document(b"...", "a.pdf")   # also send_photo, send_sticker, send_location
    await anna.block_bot(); await anna.unblock_bot()
    anna.messages / anna.last / anna.bot_texts() / anna.files_received()
    anna.callback_answers / anna.current_reply_keyboard()

    sandbox.requests / sandbox.count("sendMessage", chat_id=1)   # every request the bot made
    sandbox.fail_next(2, chat_id=1)             # next requests fail with TelegramNetworkError
    server = await serve_http(sandbox)          # Bot API over HTTP at server.url (queue mode)
    await sandbox.wait_idle(quiet=0.3, timeout=10)

``Sandbox.call(method, params, uploads)`` is the single execution core; ``SandboxSession`` (in
process) and ``SandboxHTTPServer`` (``tgsandbox.http``) are adapters around it. Refusals are
worded as Telegram words them and reach aiogram as the same exception classes.
"""

from typing import TYPE_CHECKING, Any

from .errors import ApiError, SandboxError, UnsupportedMethodError
from .media import StoredFile, Upload
from .server import DEFAULT_TOKEN, FloodLimits, RequestRecord, Sandbox, SandboxEvent
from .session import SandboxSession
from .user import SandboxFile, SandboxMessage, SandboxUser

if TYPE_CHECKING:
    from .http import SandboxHTTPServer, serve_http


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``python -m tgsandbox.http`` runs without a runpy warning.
    if name in ("SandboxHTTPServer", "serve_http"):
        from . import http

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "FloodLimits",
    "RequestRecord",
    "Sandbox",
    "SandboxError",
    "SandboxEvent",
    "SandboxFile",
    "SandboxHTTPServer",
    "SandboxMessage",
    "SandboxSession",
    "SandboxUser",
    "StoredFile",
    "UnsupportedMethodError",
    "Upload",
    "serve_http",
]
