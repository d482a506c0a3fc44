"""Service tests: real database (SQLite, and PostgreSQL where marked), frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.identity.admin import AdminService, NewAccount
from storage.models import Account
from storage.uow import UnitOfWork, UnitOfWorkFactory

PASSWORD = "Demo-Passw0rd"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass
class Env:
    ctx: AppContext
    clock: FrozenClock
    sms: ConsoleSms
    mail: ConsoleMail
    uow_factory: UnitOfWorkFactory

    def uow(self) -> UnitOfWork:
        return self.uow_factory()

    def last_code(self) -> str:
        text = (self.sms.sent[-1][1] if self.sms.sent else "") or ""
        return text.split("Код подтверждения: ")[1][:6]

    def last_mail_code(self) -> str:
        return self.mail.sent[-1][2].split("Код подтверждения: ")[1][:6]


@pytest.fixture
async def env(sqlite_uow_factory: UnitOfWorkFactory) -> AsyncIterator[Env]:
    clock, sms, mail = FrozenClock(), ConsoleSms(), ConsoleMail()
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=sms, mail=mail),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    yield Env(ctx, clock, sms, mail, sqlite_uow_factory)


async def make_account(env: Env, *, totp: bool = True, email: bool = True) -> Account:
    async with env.uow() as uow:
        account = await AdminService(uow, env.ctx, operator="test").create_account(
            NewAccount(
                phone="+79990000001",
                password=PASSWORD,
                last_name="Иванова",
                first_name="Анна",
                middle_name="Сергеевна",
                email="anna@example.ru" if email else None,
                snils="11223344595",
                totp_secret=TOTP_SECRET if totp else None,
            )
        )
        await uow.commit()
        return account
