"""The "Telegram server" of the sandbox: chats, messages, files and the Bot API methods.

``Sandbox.call(method, params, uploads)`` executes one Bot API request as the real server
receives it (parameters as form strings or JSON values, files as uploaded parts) and returns
the JSON result, or raises ``ApiError`` worded as Telegram words it. The in-process session
and the HTTP server are thin adapters around this one core.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram.client.telegram import TelegramAPIServer

from . import media
from .errors import (
    ApiError,
    SandboxError,
    SimulatedNetworkError,
    UnsupportedMethodError,
    bad_request,
    forbidden,
)
from .markup import Entity, button_url_problem, format_text, utf16_len
from .media import FileStore, StoredFile, Upload

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from .user import SandboxUser

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "7000000001:AAsandbox-token-for-tests-only-0000000000"
SANDBOX_API_BASE = "http://telegram-sandbox.invalid"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
DELETE_WINDOW = 48 * 3600

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "web_app",
)
_DEFAULT_UPDATE_TYPES = frozenset(
    {"message", "edited_message", "callback_query", "my_chat_member", "inline_query"}
)


def _known_methods() -> dict[str, str]:
    import aiogram.methods
    from aiogram.methods.base import TelegramMethod

    names: dict[str, str] = {}
    for value in vars(aiogram.methods).values():
        if inspect.isclass(value) and issubclass(value, TelegramMethod):
            api_name = getattr(value, "__api_method__", None)
            if isinstance(api_name, str):
                names[api_name.lower()] = api_name
    return names


# ------------------------------------------------------------------------------------ records


@dataclass
class UserRecord:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone: str | None = None

    def user_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    created_at: float
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Entity] = field(default_factory=list)
    document: StoredFile | None = None
    photo: list[StoredFile] | None = None
    sticker: StoredFile | None = None
    sticker_emoji: str = ""
    contact: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    inline_markup: dict[str, Any] | None = None
    keyboard_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    protected: bool = False
    edit_date: int | None = None

    @property
    def has_media(self) -> bool:
        return self.document is not None or self.photo is not None


@dataclass
class ChatState:
    user: UserRecord
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    started: bool = False
    blocked: bool = False
    reply_keyboard: dict[str, Any] | None = None
    reply_keyboard_message_id: int | None = None
    actions: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class CallbackRecord:
    id: str
    user_id: int
    message_id: int
    data: str
    created_at: float
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class RequestRecord:
    """One request the bot made: for asserting rates and for debugging."""

    method: str
    chat_id: int | None
    at: float
    params: dict[str, Any]
    ok: bool = False
    error: str | None = None


@dataclass
class SandboxEvent:
    """Something visible happened in a chat (for consoles and demos)."""

    kind: str  # "message", "edit", "delete", "callback_answer", "chat_action"
    chat_id: int
    message_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FloodLimits:
    """Flood control: token buckets, answered with 429 and ``retry_after`` like Telegram."""

    global_per_second: float | None = 30.0
    global_burst: int = 30
    per_chat_per_second: float | None = 1.0
    per_chat_burst: int = 3
    methods: frozenset[str] | None = None  # lower-case names; None: every send*/edit*/copy*

    def counts(self, method: str) -> bool:
        if self.methods is not None:
            return method in self.methods
        if method == "sendchataction":
            return False
        return method.startswith(("send", "edit", "copy", "forward"))


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class _Failure:
    remaining: int
    chat_id: int | None
    method: str | None
    after_execution: bool


# ------------------------------------------------------------------------------------ params


class Params:
    """Request parameters as the server receives them: form strings or JSON values."""

    def __init__(self, data: Mapping[str, Any], uploads: Mapping[str, Upload]):
        self.data = dict(data)
        self.uploads = dict(uploads)

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, what: str | None = None) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def chat_id(self) -> int | None:
        """The chat id when it is a number (for logs and limits); None otherwise."""
        value = self.data.get("chat_id")
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return None
        return None


_FROM_PARAMS: Any = object()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# ----------------------------------------------------------------------------------- sandbox


class Sandbox:
    """An in-memory Telegram Bot API server with private chats and person-shaped users."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "sandbox_bot",
        bot_first_name: str = "Sandbox Bot",
        clock: Callable[[], float] = time.monotonic,
        flood: FloodLimits | None = None,
        callback_query_timeout: float | None = None,
    ) -> None:
        left, sep, right = token.partition(":")
        if not (sep and left.isdigit() and right):
            raise ValueError("token must look like a bot token: '<digits>:<secret>'")
        self.token = token
        self.bot_id = int(left)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.clock = clock
        self.flood = flood
        self.callback_query_timeout = callback_query_timeout
        self.api = TelegramAPIServer.from_base(SANDBOX_API_BASE)

        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatState] = {}
        self.files = FileStore()
        self.callbacks: dict[str, CallbackRecord] = {}
        self.requests: list[RequestRecord] = []
        self.unsupported: list[str] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bot_settings: dict[tuple[str, str | int], Any] = {}
        self.webhook: dict[str, Any] | None = None

        self._wall0 = time.time()
        self._clock0 = clock()
        self._next_user_id = 100_000_001
        self._next_update_id = 1
        self._next_callback = 1
        self._queue: list[dict[str, Any]] = []
        self._handed_out = 0  # highest update_id returned by getUpdates
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._poll_released = 0
        self._changed: asyncio.Event | None = None
        self._delivery: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self._listeners: list[Callable[[SandboxEvent], None]] = []
        self._buckets: dict[object, _Bucket] = {}
        self._failures: list[_Failure] = []
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._known = _known_methods()
        self._handlers: dict[str, Callable[[Params], Any]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagemedia": self._edit_message_media,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "getfile": self._get_file,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "setmydescription": self._setting_setter("description"),
            "getmydescription": self._setting_getter("description"),
            "setmyshortdescription": self._setting_setter("short_description"),
            "getmyshortdescription": self._setting_getter("short_description"),
            "setmyname": self._setting_setter("name"),
            "getmyname": self._setting_getter("name"),
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
        }

    # ------------------------------------------------------------------ identity and time

    def now(self) -> int:
        """Unix time of the sandbox (moves with the injected clock)."""
        return int(self._wall0 + self.clock() - self._clock0)

    def bot_json(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def create_bot(self, **kwargs: Any) -> Bot:
        """An ``aiogram.Bot`` wired to this sandbox through ``SandboxSession``."""
        from aiogram import Bot

        from .session import SandboxSession

        return Bot(self.token, session=SandboxSession(self), **kwargs)

    # ---------------------------------------------------------------------------- users

    def user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
        language_code: str | None = "ru",
    ) -> SandboxUser:
        """A Telegram user who can talk to the bot (created on first use)."""
        from .user import SandboxUser

        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id == self.bot_id or user_id <= 0:
            raise SandboxError(f"invalid user id {user_id}")
        if user_id not in self.users:
            record = UserRecord(user_id, first_name, last_name, username, language_code, phone)
            self.users[user_id] = record
            self.chats[user_id] = ChatState(record)
        return SandboxUser(self, user_id)

    @property
    def blocked_users(self) -> list[int]:
        return [chat_id for chat_id, chat in self.chats.items() if chat.blocked]

    # ------------------------------------------------------------------------- delivery

    def attach(self, dispatcher: Dispatcher, bot: Bot, *, raise_errors: bool = True) -> None:
        """Deliver every user action to ``dispatcher.feed_update(bot, update)`` and await it.

        A handler's returned ``TelegramMethod`` is executed as polling does. With
        ``raise_errors`` (the default) an exception in a handler reaches the test.
        """
        from aiogram.client.telegram import PRODUCTION, TEST
        from aiogram.methods import TelegramMethod
        from aiogram.types import Update

        from .session import SandboxSession

        session = bot.session
        if not isinstance(session, SandboxSession) and session.api in (PRODUCTION, TEST):
            raise SandboxError("this bot talks to the real Telegram; give it a SandboxSession")
        if bot.token != self.token:
            raise SandboxError("the bot's token is not the sandbox token")

        async def deliver(update: dict[str, Any]) -> None:
            event = Update.model_validate(update, context={"bot": bot})
            try:
                result = await dispatcher.feed_update(bot, event)
                if isinstance(result, TelegramMethod):
                    await bot(result)
            except Exception:
                if raise_errors:
                    raise
                logger.exception("Update %s failed", update["update_id"])

        self._delivery = deliver

    def detach(self) -> None:
        """Queue updates for getUpdates again instead of feeding a dispatcher."""
        self._delivery = None

    async def emit_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Make an update (e.g. ``{"message": {...}}``) and deliver or queue it."""
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._touch()
        if self._delivery is not None:
            await self._delivery(update)
        else:
            self._queue.append(update)
            self._notify()
        return update

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet returned by getUpdates."""
        return sum(1 for update in self._queue if update["update_id"] > self._handed_out)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until no update is queued and the bot made no request for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            pending = self.pending_updates
            if not pending and not self._in_flight and now - self._last_activity >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"sandbox is not idle after {timeout}s: {pending} queued update(s), "
                    f"{self._in_flight} request(s) in flight"
                )
            await asyncio.sleep(0.02)

    def add_listener(self, listener: Callable[[SandboxEvent], None]) -> None:
        self._listeners.append(listener)

    def _event(self, kind: str, chat_id: int, message_id: int | None = None, **detail: Any) -> None:
        event = SandboxEvent(kind, chat_id, message_id, detail)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("sandbox listener failed")

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = None

    def _wait_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def release_polls(self) -> None:
        """Make waiting getUpdates requests return at once (used when a server stops)."""
        self._poll_released += 1
        self._notify()

    # --------------------------------------------------------------- faults and limits

    def fail_next(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        method: str | None = None,
        after_execution: bool = False,
    ) -> None:
        """Make the next ``count`` matching requests fail with a network error.

        ``after_execution=True`` loses the response instead of the request: the server did
        the work (the message is sent) but the bot sees a network error.
        """
        self._failures.append(
            _Failure(count, chat_id, method.lower() if method else None, after_execution)
        )

    def _take_failure(self, method: str, chat_id: int | None) -> _Failure | None:
        for failure in self._failures:
            if failure.method is not None and failure.method != method:
                continue
            if failure.chat_id is not None and failure.chat_id != chat_id:
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            return failure
        return None

    def _check_flood(self, method: str, chat_id: int | None) -> None:
        limits = self.flood
        if limits is None or not limits.counts(method):
            return
        now = self.clock()
        checks: list[tuple[object, float, int]] = []
        if limits.global_per_second:
            checks.append(("global", limits.global_per_second, limits.global_burst))
        if limits.per_chat_per_second and chat_id is not None:
            checks.append((("chat", chat_id), limits.per_chat_per_second, limits.per_chat_burst))
        wait = 0.0
        for key, rate, burst in checks:
            bucket = self._buckets.setdefault(key, _Bucket(float(burst), now))
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens < 1:
                wait = max(wait, (1 - bucket.tokens) / rate)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        for key, _, _ in checks:
            self._buckets[key].tokens -= 1

    # ------------------------------------------------------------------------ requests

    def count(
        self, method: str | None = None, *, chat_id: int | None = None, ok: bool | None = None
    ) -> int:
        """How many requests the bot made (optionally of one method, to one chat)."""
        return len(self.requests_for(method, chat_id=chat_id, ok=ok))

    def requests_for(
        self, method: str | None = None, *, chat_id: int | None = None, ok: bool | None = None
    ) -> list[RequestRecord]:
        return [
            record
            for record in self.requests
            if (method is None or record.method.lower() == method.lower())
            and (chat_id is None or record.chat_id == chat_id)
            and (ok is None or record.ok == ok)
        ]

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        uploads: Mapping[str, Upload] | None = None,
        *,
        token: str | None = None,
    ) -> Any:
        """Execute one Bot API request; returns the JSON ``result`` or raises ``ApiError``."""
        if token is not None and token != self.token:
            raise ApiError(401, "Unauthorized")
        key = method.lower()
        name = self._known.get(key, method)
        handler = self._handlers.get(key)
        if handler is None:
            if key in self._known:
                self.unsupported.append(name)
                logger.error("sandbox: the bot called %s, which the sandbox does not model", name)
                raise UnsupportedMethodError(
                    f"the sandbox does not implement the Bot API method {name!r}"
                )
            raise ApiError(404, "Not Found")
        p = Params(params or {}, uploads or {})
        record = RequestRecord(name, p.chat_id(), self.clock(), dict(p.data))
        self.requests.append(record)
        polling = key == "getupdates"
        if not polling:
            self._in_flight += 1
            self._touch()
        try:
            failure = self._take_failure(key, record.chat_id)
            if failure is not None and not failure.after_execution:
                raise SimulatedNetworkError("ServerDisconnectedError: Server disconnected")
            self._check_flood(key, record.chat_id)
            result = handler(p)
            if inspect.isawaitable(result):
                result = await result
            if failure is not None:
                raise SimulatedNetworkError("ServerDisconnectedError: Server disconnected")
            record.ok = True
            return result
        except ApiError as exc:
            record.error = exc.description
            raise
        except SimulatedNetworkError as exc:
            record.error = str(exc)
            raise
        finally:
            if not polling:
                self._in_flight -= 1
                self._touch()

    # ------------------------------------------------------------------------ helpers

    def _chat(self, p: Params) -> ChatState:
        raw = p.raw("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat_id = p.chat_id()
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        return chat

    def _message_id(self, p: Params) -> int:
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        return message_id

    def _editable(self, p: Params) -> tuple[ChatState, StoredMessage]:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        if p.has("business_connection_id"):
            raise bad_request("BUSINESS_CONNECTION_INVALID")
        chat = self._chat(p)
        message = chat.messages.get(self._message_id(p))
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if message.keyboard_markup is not None:
            # Only messages without reply_markup or with an inline keyboard can be edited: not
            # those sent with a reply keyboard, ReplyKeyboardRemove or ForceReply.
            raise bad_request("message can't be edited")
        return chat, message

    def _markup(
        self, p: Params, *, inline_only: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(inline keyboard, other reply markup) from the ``reply_markup`` parameter."""
        raw = p.json("reply_markup", "reply keyboard markup")
        if raw is None:
            return None, None
        if not isinstance(raw, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            return self._check_inline_keyboard(raw), None
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in raw:
            rows = raw["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('can\'t parse keyboard: Field "keyboard" must be of type Array')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str):
                        raise bad_request(
                            'can\'t parse keyboard button: Field "text" must be of type String'
                        )
            return None, raw
        if raw.get("remove_keyboard"):
            return None, {"remove_keyboard": True}
        if raw.get("force_reply"):
            return None, raw
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_keyboard(raw: dict[str, Any]) -> dict[str, Any]:
        rows = raw["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse inline keyboard: Field "inline_keyboard" must be of type Array'
            )
        clean_rows: list[list[dict[str, Any]]] = []
        for row in rows:
            clean_row: list[dict[str, Any]] = []
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                clean = {k: v for k, v in button.items() if v is not None and v != ""}
                if not any(action in clean for action in _INLINE_ACTIONS):
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = clean.get("callback_data")
                if data is not None and len(str(data).encode("utf-8")) > MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
                url = clean.get("url")
                if url is not None:
                    problem = button_url_problem(str(url))
                    if problem:
                        raise bad_request(
                            f"inline keyboard button URL '{url}' is invalid: {problem}"
                        )
                clean_row.append(clean)
            clean_rows.append(clean_row)
        return {"inline_keyboard": clean_rows}

    def _text(self, p: Params, name: str, entities_name: str) -> tuple[str, list[Entity]]:
        raw = p.text(name)
        if raw is None or raw == "":
            return "", []
        return format_text(raw, p.text("parse_mode"), p.json(entities_name, "entities"))

    def _caption(self, p: Params) -> tuple[str | None, list[Entity]]:
        caption, entities = self._text(p, "caption", "caption_entities")
        if utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return (caption or None), entities

    def _reply_to(self, chat: ChatState, p: Params) -> int | None:
        params = p.json("reply_parameters", "reply parameters")
        allow_missing = p.flag("allow_sending_without_reply")
        target = p.integer("reply_to_message_id")
        if isinstance(params, dict):
            target = params.get("message_id", target)
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
        if target is None:
            return None
        if int(target) in chat.messages:
            return int(target)
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")

    def _store(self, chat: ChatState, message: StoredMessage) -> StoredMessage:
        chat.messages[message.message_id] = message
        if message.from_bot and message.keyboard_markup is not None:
            if "keyboard" in message.keyboard_markup:
                chat.reply_keyboard = message.keyboard_markup
                chat.reply_keyboard_message_id = message.message_id
            elif message.keyboard_markup.get("remove_keyboard"):
                chat.reply_keyboard = None
                chat.reply_keyboard_message_id = None
        self._event("message", chat.user.id, message.message_id, from_bot=message.from_bot)
        return message

    def _new_message(self, chat: ChatState, *, from_bot: bool, **fields: Any) -> StoredMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = StoredMessage(
            chat_id=chat.user.id,
            message_id=message_id,
            from_bot=from_bot,
            date=self.now(),
            created_at=self.clock(),
            **fields,
        )
        return self._store(chat, message)

    def message_json(self, message: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """The message as the Bot API shows it (a ``Message`` object)."""
        chat = self.chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_json() if message.from_bot else chat.user.user_json(),
            "chat": chat.user.chat_json(),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.protected:
            data["has_protected_content"] = True
        if with_reply and message.reply_to is not None:
            target = chat.messages.get(message.reply_to)
            if target is not None:
                data["reply_to_message"] = self.message_json(target, with_reply=False)
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.document is not None:
            data["document"] = message.document.document_json()
        if message.photo is not None:
            data["photo"] = [size.photo_size_json() for size in message.photo]
        if message.sticker is not None:
            data["sticker"] = message.sticker.sticker_json(message.sticker_emoji)
        if message.caption is not None:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.contact is not None:
            data["contact"] = message.contact
        if message.location is not None:
            data["location"] = message.location
        if message.inline_markup is not None:
            data["reply_markup"] = message.inline_markup
        return data

    def _input_file(
        self, p: Params, name: str, kind: str, value: Any = _FROM_PARAMS
    ) -> list[StoredFile]:
        """Resolve a file parameter: an upload, ``attach://<part>`` or a known file_id."""
        if value is _FROM_PARAMS:
            value = p.raw(name)
        upload: Upload | None = None
        if value is None or value == "":
            upload = p.uploads.get(name)
            if upload is None:
                raise bad_request(f"there is no {name} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = p.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        elif isinstance(value, str):
            if value.lower().startswith(("http://", "https://")):
                # Telegram would fetch the URL itself; the sandbox has no network.
                raise bad_request("failed to get HTTP URL content")
            known = self.files.by_id.get(value)
            if known is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            if known.kind != kind:
                raise bad_request("type of file mismatch")
            if kind == "photo":
                return self.files.photo_sizes[known.file_id]
            return [known]
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if kind == "photo":
            return self.files.add_photo(upload.data)
        return [self.files.add_document(upload.data, upload.filename, None)]

    # ---------------------------------------------------------------------- methods

    def _get_me(self, p: Params) -> dict[str, Any]:
        return {
            **self.bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        text, entities = self._text(p, "text", "entities")
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        inline, keyboard = self._markup(p, inline_only=False)
        message = self._new_message(
            chat,
            from_bot=True,
            text=text,
            entities=entities,
            inline_markup=inline,
            keyboard_markup=keyboard,
            reply_to=self._reply_to(chat, p),
            protected=p.flag("protect_content"),
        )
        return self.message_json(message)

    def _send_document(self, p: Params) -> dict[str, Any]:
        return self._send_file(p, "document")

    def _send_photo(self, p: Params) -> dict[str, Any]:
        return self._send_file(p, "photo")

    def _send_file(self, p: Params, kind: str) -> dict[str, Any]:
        """sendDocument and sendPhoto: a message with a caption and the file of `kind`."""
        chat = self._chat(p)
        caption, entities = self._caption(p)
        inline, keyboard = self._markup(p, inline_only=False)
        reply_to = self._reply_to(chat, p)
        stored = self._input_file(p, kind, kind)
        attachment: dict[str, Any]
        if kind == "document":
            (document,) = stored
            attachment = {"document": document}
        else:
            attachment = {"photo": stored}
        message = self._new_message(
            chat,
            from_bot=True,
            caption=caption,
            caption_entities=entities,
            inline_markup=inline,
            keyboard_markup=keyboard,
            reply_to=reply_to,
            protected=p.flag("protect_content"),
            **attachment,
        )
        return self.message_json(message)

    def _edited(self, chat: ChatState, message: StoredMessage) -> dict[str, Any]:
        message.edit_date = self.now()
        self._event("edit", chat.user.id, message.message_id)
        return self.message_json(message)

    def _edit_message_text(self, p: Params) -> dict[str, Any]:
        chat, message = self._editable(p)
        text, entities = self._text(p, "text", "entities")
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        inline, _ = self._markup(p, inline_only=True)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        if (
            text == message.text
            and _canonical(entities) == _canonical(message.entities)
            and _canonical(inline) == _canonical(message.inline_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        message.text, message.entities, message.inline_markup = text, entities, inline
        return self._edited(chat, message)

    def _edit_message_caption(self, p: Params) -> dict[str, Any]:
        chat, message = self._editable(p)
        caption, entities = self._caption(p)
        inline, _ = self._markup(p, inline_only=True)
        if not message.has_media:
            raise bad_request("there is no caption in the message to edit")
        if (
            caption == message.caption
            and _canonical(entities) == _canonical(message.caption_entities)
            and _canonical(inline) == _canonical(message.inline_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        message.caption, message.caption_entities = caption, entities
        message.inline_markup = inline
        return self._edited(chat, message)

    def _edit_message_media(self, p: Params) -> dict[str, Any]:
        chat, message = self._editable(p)
        spec = p.json("media", "InputMedia")
        if not isinstance(spec, dict) or "type" not in spec:
            raise bad_request("can't parse InputMedia JSON object")
        kind = spec["type"]
        if kind not in ("photo", "document"):
            raise SandboxError(f"editMessageMedia with media of type {kind!r} is not modelled")
        inline, _ = self._markup(p, inline_only=True)
        if not message.has_media:
            raise bad_request("there is no media in the message to edit")
        caption_params = Params(
            {
                "caption": spec.get("caption"),
                "parse_mode": spec.get("parse_mode"),
                "caption_entities": spec.get("caption_entities"),
            },
            {},
        )
        caption, entities = self._caption(caption_params)
        files = self._input_file(p, "media", kind, value=spec.get("media"))
        old = message.photo[-1] if message.photo else message.document
        if (
            old is not None
            and old.file_unique_id == files[-1].file_unique_id
            and caption == message.caption
            and _canonical(entities) == _canonical(message.caption_entities)
            and _canonical(inline) == _canonical(message.inline_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        message.document = files[0] if kind == "document" else None
        message.photo = files if kind == "photo" else None
        message.caption, message.caption_entities = caption, entities
        message.inline_markup = inline
        return self._edited(chat, message)

    def _edit_message_reply_markup(self, p: Params) -> dict[str, Any]:
        chat, message = self._editable(p)
        inline, _ = self._markup(p, inline_only=True)
        if _canonical(inline) == _canonical(message.inline_markup):
            raise bad_request(NOT_MODIFIED)
        message.inline_markup = inline
        return self._edited(chat, message)

    def _deletable(self, chat: ChatState, message_id: int) -> StoredMessage:
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        if self.clock() - message.created_at > DELETE_WINDOW:
            raise bad_request("message can't be deleted for everyone")
        return message

    def _remove(self, chat: ChatState, message: StoredMessage) -> None:
        del chat.messages[message.message_id]
        # The chat's reply keyboard belongs to the message that set it: deleting that message
        # removes the keyboard (tdlib's reply_markup_message_id).
        if chat.reply_keyboard_message_id == message.message_id:
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        self._event("delete", chat.user.id, message.message_id)

    def _delete_message(self, p: Params) -> bool:
        chat = self._chat(p)
        self._remove(chat, self._deletable(chat, self._message_id(p)))
        return True

    def _delete_messages(self, p: Params) -> bool:
        chat = self._chat(p)
        ids = p.json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not ids:
            raise bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise bad_request("too many message identifiers specified")
        for message_id in ids:
            try:
                message = self._deletable(chat, int(message_id))
            except ApiError:
                continue  # Telegram skips messages that can't be found or deleted
            self._remove(chat, message)
        return True

    def _answer_callback_query(self, p: Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        record = self.callbacks.get(query_id)
        too_late = (
            record is not None
            and self.callback_query_timeout is not None
            and self.clock() - record.created_at > self.callback_query_timeout
        )
        if record is None or record.answered or too_late:
            raise bad_request(QUERY_TOO_OLD)
        record.answered = True
        record.text = p.text("text") or None
        record.show_alert = p.flag("show_alert")
        record.url = p.text("url") or None
        self._event(
            "callback_answer",
            record.user_id,
            record.message_id,
            text=record.text,
            show_alert=record.show_alert,
        )
        return True

    def _send_chat_action(self, p: Params) -> bool:
        chat = self._chat(p)
        action = p.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append((action, self.clock()))
        self._event("chat_action", chat.user.id, action=action)
        return True

    def _get_file(self, p: Params) -> dict[str, Any]:
        stored = self.files.by_id.get(p.text("file_id") or "")
        if stored is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if stored.file_size > media.MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.file_json()

    def file_by_path(self, path: str) -> StoredFile | None:
        return self.files.by_path.get(path)

    @staticmethod
    def _commands_key(p: Params) -> tuple[str, str]:
        scope = p.json("scope", "BotCommandScope") or {"type": "default"}
        return _canonical(scope), p.text("language_code") or ""

    def _set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands", "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        clean: list[dict[str, Any]] = []
        for item in commands:
            command = str(item.get("command", "")) if isinstance(item, dict) else ""
            description = str(item.get("description", "")) if isinstance(item, dict) else ""
            valid = 1 <= len(command) <= 32 and all(
                c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in command
            )
            if not valid:
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        self.commands[self._commands_key(p)] = clean
        return True

    def _get_my_commands(self, p: Params) -> list[dict[str, Any]]:
        return list(self.commands.get(self._commands_key(p), []))

    def _delete_my_commands(self, p: Params) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    def _set_webhook(self, p: Params) -> bool:
        url = p.text("url") or ""
        if not url:
            self.webhook = None
        elif not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        else:
            self.webhook = {
                "url": url,
                "secret_token": p.text("secret_token"),
                "max_connections": p.integer("max_connections") or 40,
                "allowed_updates": p.json("allowed_updates", "allowed updates"),
            }
        if p.flag("drop_pending_updates"):
            self._drop_pending()
        return True

    def _delete_webhook(self, p: Params) -> bool:
        self.webhook = None
        if p.flag("drop_pending_updates"):
            self._drop_pending()
        return True

    def _get_webhook_info(self, p: Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.pending_updates,
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _drop_pending(self) -> None:
        self._queue.clear()
        self._handed_out = self._next_update_id - 1

    async def _get_updates(self, p: Params) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        self._poll_generation += 1
        generation = self._poll_generation
        released = self._poll_released
        self._notify()  # an older poll is terminated by this one

        offset = p.integer("offset")
        limit = p.integer("limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = max(p.integer("timeout") or 0, 0)
        allowed = p.json("allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_UPDATE_TYPES
        if offset is not None:
            if offset > 0:
                self._queue = [u for u in self._queue if u["update_id"] >= offset]
            elif offset < 0:
                self._queue = self._queue[offset:]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._queue = [u for u in self._queue if self._allowed(u)]
            batch = self._queue[:limit]
            if batch:
                self._handed_out = max(self._handed_out, batch[-1]["update_id"])
                self._touch()
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or released != self._poll_released:
                return []
            event = self._wait_event()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)

    def _allowed(self, update: dict[str, Any]) -> bool:
        kinds = [key for key in update if key != "update_id"]
        return any(kind in self._allowed_updates for kind in kinds)

    def _setting_setter(self, name: str) -> Callable[[Params], bool]:
        def setter(p: Params) -> bool:
            self.bot_settings[(name, p.text("language_code") or "")] = p.text(name) or ""
            return True

        return setter

    def _setting_getter(self, name: str) -> Callable[[Params], dict[str, Any]]:
        def getter(p: Params) -> dict[str, Any]:
            value = self.bot_settings.get((name, p.text("language_code") or ""))
            if value is None and name == "name":
                value = self.bot_first_name
            return {name: value or ""}

        return getter

    def _set_chat_menu_button(self, p: Params) -> bool:
        button = p.json("menu_button", "menu button") or {"type": "default"}
        self.bot_settings[("menu_button", p.chat_id() or 0)] = button
        return True

    def _get_chat_menu_button(self, p: Params) -> dict[str, Any]:
        stored = self.bot_settings.get(("menu_button", p.chat_id() or 0))
        return dict(stored) if stored else {"type": "default"}

    # ------------------------------------------------------------------ user actions

    def _user_chat(self, user_id: int) -> ChatState:
        chat = self.chats.get(user_id)
        if chat is None:
            raise SandboxError(f"unknown user {user_id}; create it with sandbox.user()")
        if chat.blocked:
            raise SandboxError(f"user {user_id} has blocked the bot; call unblock_bot() first")
        return chat

    async def post_user_message(self, user_id: int, **fields: Any) -> StoredMessage:
        """Store a message from the user and deliver it to the bot as an update."""
        chat = self._user_chat(user_id)
        if fields.get("reply_to") is not None and fields["reply_to"] not in chat.messages:
            raise SandboxError(f"message {fields['reply_to']} to reply to is gone")
        chat.started = True
        message = self._new_message(chat, from_bot=False, **fields)
        await self.emit_update({"message": self.message_json(message)})
        return message

    async def press_callback(self, user_id: int, message_id: int, data: str) -> str:
        """Press an inline callback button: deliver a callback_query, return its id."""
        chat = self._user_chat(user_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise SandboxError(f"message {message_id} is gone; its buttons cannot be pressed")
        query_id = str(4_200_000_000_000_000_000 + self._next_callback)
        self._next_callback += 1
        self.callbacks[query_id] = CallbackRecord(query_id, user_id, message_id, data, self.clock())
        await self.emit_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": chat.user.user_json(),
                    "message": self.message_json(message),
                    "chat_instance": str(-(7_000_000_000_000_000_000 + user_id)),
                    "data": data,
                }
            }
        )
        return query_id

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """The user blocks (or unblocks) the bot; the bot gets a my_chat_member update."""
        chat = self.chats.get(user_id)
        if chat is None:
            raise SandboxError(f"unknown user {user_id}")
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        member = {"status": "member", "user": self.bot_json()}
        kicked = {"status": "kicked", "user": self.bot_json(), "until_date": 0}
        await self.emit_update(
            {
                "my_chat_member": {
                    "chat": chat.user.chat_json(),
                    "from": chat.user.user_json(),
                    "date": self.now(),
                    "old_chat_member": member if blocked else kicked,
                    "new_chat_member": kicked if blocked else member,
                }
            }
        )

    def unanswered_callback_queries(self) -> list[CallbackRecord]:
        return [record for record in self.callbacks.values() if not record.answered]
