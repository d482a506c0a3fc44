"""The real application, built by ``bot.app.build_runtime`` and driven through the sandbox.

Only public entry points: ``build_runtime`` and ``Runtime.dispatcher``, the
sandbox's users, and the admin service to create the accounts (as the
``admin create-account`` command does). Codes are read from the console SMS
gateway, as a person reads their phone.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy import event

from bench.latency import DelayedSession, delayed_bot
from bot.app import Runtime, build_runtime
from bot.config import Settings
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.identity.admin import AdminService, NewAccount
from tgsandbox import Sandbox, SandboxUser

PASSWORD = "Bench-Passw0rd"
CODE = re.compile(r"Код подтверждения: (\d{6})")
MAIN_MENU = "Главное меню"


class BenchError(AssertionError):
    """The application did not answer as a person expects: the figures would mean nothing."""


@dataclass(frozen=True)
class Person:
    telegram_id: int
    phone: str
    first_name: str


def people(start: int, count: int) -> list[Person]:
    """`count` people with ids and phones of their own (none is a demo person)."""
    return [
        Person(telegram_id=100_000 + n, phone=f"+7998{n:07d}", first_name=f"Имя{n}")
        for n in range(start, start + count)
    ]


class DrivenApp:
    """The running application, a sandbox attached to its dispatcher, and the SMS inbox."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        storage: BaseStorage | None,
        hasher: PasswordHasher,
    ) -> None:
        self.settings = Settings(
            _env_file=None,
            data_dir=workdir / "data",
            database_url=database_url,
            redis_url=None,  # the storage is given (or SqlStorage)
            bot_token=None,
            notify_per_chat_interval=0,
            processing_delay_seconds=0,
        )
        self.storage = storage
        self.hasher = hasher
        self.sms = ConsoleSms()
        self.clock = FrozenClock()
        self.sandbox = Sandbox()
        self.session: DelayedSession | None = None
        self.runtime: Runtime | None = None
        self.sql_statements = 0  # sent to the database (the app's, and SqlStorage's)
        self.commits = 0

    async def start(self) -> None:
        self.runtime = build_runtime(
            self.settings,
            gateways=Gateways(clock=self.clock, sms=self.sms, mail=ConsoleMail()),
            hasher=self.hasher,
            storage=self.storage,
        )
        event.listen(self.runtime.engine.sync_engine, "before_cursor_execute", self._count)
        event.listen(self.runtime.engine.sync_engine, "commit", self._count_commit)
        bot, self.session = delayed_bot(self.sandbox)
        self.bot = bot
        self.sandbox.attach(self.runtime.dispatcher, bot)
        await self.runtime.dispatcher.emit_startup(bot=bot)

    def _count(self, *_args: object) -> None:
        self.sql_statements += 1

    def _count_commit(self, *_args: object) -> None:
        self.commits += 1

    def database_work(self) -> tuple[int, int]:
        """(SQL statements, commits) so far."""
        return self.sql_statements, self.commits

    async def stop(self) -> None:
        if self.runtime is None:
            return
        await self.runtime.dispatcher.emit_shutdown(bot=self.bot)
        self.sandbox.detach()
        await self.runtime.close()
        self.runtime = None

    async def create_accounts(self, persons: Iterable[Person]) -> None:
        assert self.runtime is not None
        async with self.runtime.uow_factory() as uow:
            admin = AdminService(uow, self.runtime.ctx, operator="bench")
            for person in persons:
                await admin.create_account(
                    NewAccount(
                        phone=person.phone,
                        password=PASSWORD,
                        last_name="Бенчмарков",
                        first_name=person.first_name,
                    )
                )
            await uow.commit()

    def user(self, person: Person) -> SandboxUser:
        return self.sandbox.user(
            user_id=person.telegram_id, first_name=person.first_name, phone=person.phone
        )

    def sms_code(self, phone: str) -> str:
        for to, text in reversed(self.sms.sent):
            if to == phone:
                match = CODE.search(text)
                if match:
                    return match.group(1)
        raise BenchError(f"no SMS code was sent to {phone}")

    async def to_password(self, user: SandboxUser, person: Person) -> None:
        """/start, «Войти через Госуслуги», the login: the bot now asks for the password."""
        await user.send("/start")
        await user.press("Войти через Госуслуги")
        await user.send(person.phone)
        expect(user, "арол")  # «Введите пароль …»

    async def after_password(self, user: SandboxUser, person: Person) -> None:
        """The contact (first sign-in from this Telegram account) and the SMS code."""
        if user.current_reply_keyboard():
            await user.press("Поделиться номером")
        if "Как вы хотите получить код" in (user.last.text or ""):
            await user.press("Код из SMS")
        await user.send(self.sms_code(person.phone))
        expect(user, MAIN_MENU)

    async def sign_in(self, user: SandboxUser, person: Person) -> None:
        await self.to_password(user, person)
        await user.send(PASSWORD)
        await self.after_password(user, person)


def expect(user: SandboxUser, fragment: str) -> str:
    """The bot's last message, which must contain `fragment`."""
    last = user.last
    text = last.text or ""
    if not last.from_bot or fragment not in text:
        raise BenchError(f"expected {fragment!r} from the bot, got {text[:300]!r}")
    return text


async def gather_limited(coroutines: Iterable[object], limit: int) -> None:
    """Await the coroutines, at most `limit` at a time."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: object) -> None:
        async with semaphore:
            await coroutine  # type: ignore[misc]

    await asyncio.gather(*(one(c) for c in coroutines))
