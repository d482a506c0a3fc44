"""Conversations through the Telegram sandbox against the real application.

`app` builds the whole bot — settings, database (migrated), FSM storage,
dispatcher with every middleware and dialog, the notifier — and attaches the
sandbox. Tests talk as a person does: send text, press buttons by label, share
a contact, read the chat. Time is a `FrozenClock` the test moves; codes are
read from the console SMS and mail gateways, as a person reads their phone.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from PIL import Image

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.workers import build_notifier, build_processor
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.demo import DEMO_TOTP_SECRET, seed_demo
from storage.fsm import create_redis_storage
from tgsandbox import Sandbox, SandboxUser, StoredFile

ANNA_PHONE = "+79990000001"
PETROV_PHONE = "+79990000002"
SMIRNOVA_PHONE = "+79990000003"
KUZNETSOV_PHONE = "+79990000004"
PASSWORD = "Demo-Passw0rd"
CODE = re.compile(r"Код подтверждения: (\d{6})")


class App:
    """The running application plus what a person would see and receive."""

    def __init__(
        self,
        settings: Settings,
        storage_factory: Callable[[], BaseStorage | None],
        errors: list[logging.LogRecord],
    ) -> None:
        self.settings = settings
        self.storage_factory = storage_factory
        self.errors = errors
        self.clock = FrozenClock()
        self.sms = ConsoleSms()
        self.mail = ConsoleMail()
        self.hasher = PasswordHasher.for_tests()
        self.sandbox = Sandbox()
        self.runtime: Runtime | None = None
        self.bot: Bot | None = None

    async def start(self) -> None:
        """Start (or start again, after `stop`) over the same database and storage."""
        self.runtime = build_runtime(
            self.settings,
            gateways=Gateways(clock=self.clock, sms=self.sms, mail=self.mail),
            hasher=self.hasher,
            storage=self.storage_factory(),
        )
        self.bot = self.sandbox.create_bot()
        self.sandbox.attach(self.runtime.dispatcher, self.bot)
        await self.runtime.dispatcher.emit_startup(bot=self.bot)

    async def stop(self) -> None:
        assert self.runtime is not None and self.bot is not None
        await self.settle()
        await self.runtime.dispatcher.emit_shutdown(bot=self.bot)
        self.sandbox.detach()
        await self.runtime.close()
        self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def seed(self) -> None:
        assert self.runtime is not None
        async with self.runtime.uow_factory() as uow:
            await seed_demo(uow, self.runtime.ctx)
            await uow.commit()

    def user(self, user_id: int = 1001, phone: str = ANNA_PHONE, name: str = "Анна") -> SandboxUser:
        return self.sandbox.user(user_id=user_id, first_name=name, phone=phone)

    def last_sms_code(self) -> str:
        assert self.sms.sent, "no SMS was sent"
        match = CODE.search(self.sms.sent[-1][1])
        assert match
        return match.group(1)

    def last_mail_code(self) -> str:
        assert self.mail.sent, "no e-mail was sent"
        match = CODE.search(self.mail.sent[-1][2])
        assert match
        return match.group(1)

    def totp_now(self) -> str:
        return pyotp.TOTP(DEMO_TOTP_SECRET).at(self.clock.now())

    async def deliver_pushes(self) -> int:
        """Run the notifier until nothing is due, as the background worker would."""
        assert self.runtime is not None and self.bot is not None
        notifier = build_notifier(self.runtime, self.bot)
        total = 0
        for _ in range(20):
            count = await notifier.run_once()
            if not count:
                break
            total += count
        await self.settle()
        return total

    async def process_applications(self) -> int:
        """Run the processor until no application waits, as the background worker would.

        With ``processing_delay_seconds=0`` each one goes «В работе» and is decided at
        once; the open windows get their background refresh before this returns.
        """
        assert self.runtime is not None and self.bot is not None
        processor = build_processor(self.runtime, self.bot)
        processed = 0
        while await processor.run_once():
            processed += 1
            assert processed < 50, "the processor does not become idle"
        await self.settle()
        return processed

    async def settle(self) -> None:
        """Let background dialog updates (tasks) finish."""
        for _ in range(5):
            await asyncio.sleep(0)
        await _dialog_updates_done()
        await self.sandbox.wait_idle(quiet=0.05, timeout=5)

    async def sign_in(self, user: SandboxUser, *, login: str = ANNA_PHONE) -> None:
        """The whole sign-in with an SMS code, for tests about what comes after."""
        await user.send("/start")
        await user.press("Войти через Госуслуги")
        await user.send(login)
        await user.send(PASSWORD)
        if user.current_reply_keyboard():
            await user.press("Поделиться номером")
        if "Как вы хотите получить код" in (user.last.text or ""):
            await user.press("Код из SMS")
        await user.send(self.last_sms_code())
        assert "Главное меню" in (user.last.text or ""), user.messages


def _is_dialog_update(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") == "Updater._process_update"


async def _dialog_updates_done(within: float = 5) -> None:
    """Wait for aiogram-dialog's background updates (``bg().update()``, tasks of their own).

    They read the database before they talk to Telegram, so the sandbox alone may
    look idle while they are still on their way.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        pending = [t for t in asyncio.all_tasks() if not t.done() and _is_dialog_update(t)]
        if not pending:
            return
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"{len(pending)} background dialog update(s) did not finish")
        await asyncio.wait(pending, timeout=left)
        await asyncio.sleep(0)  # an update may schedule another one


class _ErrorCollector(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


async def _make_app(
    tmp_path: Path, database_url: str, storage_factory: Callable[[], BaseStorage | None]
) -> AsyncIterator[App]:
    errors: list[logging.LogRecord] = []
    collector = _ErrorCollector(errors)
    logging.getLogger().addHandler(collector)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=None,
        bot_token=None,
        # The per-chat pace is the notifier tests' subject; here pushes go out at once.
        notify_per_chat_interval=0,
        # Applications are decided as soon as the processor takes them.
        processing_delay_seconds=0,
    )
    app = App(settings, storage_factory, errors)
    await app.start()
    await app.seed()
    try:
        yield app
    finally:
        if app.runtime is not None:
            await app.stop()
        logging.getLogger().removeHandler(collector)
    unexpected = [r for r in errors if r.name.startswith(("handlers", "bot", "aiogram"))]
    assert not unexpected, [r.getMessage() for r in unexpected]


@pytest.fixture
async def app(tmp_path: Path, sqlite_url: str) -> AsyncIterator[App]:
    """The bot on SQLite with the SQL FSM storage (the default set-up)."""
    async for running in _make_app(tmp_path, sqlite_url, lambda: None):
        yield running


@pytest.fixture
async def redis_app(
    tmp_path: Path, sqlite_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[App]:
    """The bot with conversation state in Redis (as with REDIS_URL)."""

    def storage() -> BaseStorage:
        return create_redis_storage(redis_url, 10, prefix=redis_prefix)

    async for running in _make_app(tmp_path, sqlite_url, storage):
        yield running


@pytest.fixture
async def pg_app(tmp_path: Path, pg_url: str) -> AsyncIterator[App]:
    """The bot on PostgreSQL with the SQL FSM storage."""
    async for running in _make_app(tmp_path, pg_url, lambda: None):
        yield running


def png_bytes(size: tuple[int, int] = (800, 600), color: str = "white") -> bytes:
    """A real PNG picture, as a phone would send (large enough to be read: 600 px and up)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


async def send_document_as_declared(
    user: SandboxUser,
    data: bytes,
    filename: str,
    mime_type: str = "application/pdf",
    *,
    declare_size: bool = True,
) -> None:
    """A document Telegram delivers as it is, even one it would not let a client upload.

    ``send_document`` refuses what Telegram refuses (an empty file); this builds
    the file on the sandbox's server directly. With ``declare_size=False`` the
    update carries no ``file_size`` (the field is optional in the Bot API), so the
    bot learns the size only from the bytes it downloads.
    """
    files = user.sandbox.files
    stored = files.add_document(b"placeholder", filename, mime_type)
    stored.data = data
    if not declare_size:
        stored = _UndeclaredSize(**{f.name: getattr(stored, f.name) for f in fields(stored)})
        files.by_id[stored.file_id] = stored
        files.by_path[stored.file_path] = stored
    await user.sandbox.post_user_message(user.id, document=stored)


@dataclass
class _UndeclaredSize(StoredFile):
    def document_json(self) -> dict[str, Any]:
        data = super().document_json()
        data.pop("file_size", None)
        return data


def texts(user: SandboxUser) -> str:
    return "\n---\n".join(m.text or "" for m in user.messages if m.from_bot)


def assert_no_secret(user: SandboxUser, secret: str) -> None:
    for message in user.messages:
        assert secret not in (message.text or ""), message
