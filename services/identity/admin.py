"""Support staff's commands: create an account, unlock it, reset its password. All audited."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from services.core import audit, notify
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.core.validators import normalize_phone, normalize_snils, parse_login, validate_email
from services.identity.otp import check_totp_secret, seal_totp_secret
from services.identity.passwords import check_password_policy
from storage.models import Account
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class NewAccount:
    phone: str
    password: str
    last_name: str
    first_name: str
    middle_name: str | None = None
    email: str | None = None
    snils: str | None = None
    totp_secret: str | None = None


def temporary_password() -> str:
    """A random password that meets the policy (for `admin reset-password`)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(14))
        if (
            any(c.isdigit() for c in candidate)
            and any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
        ):
            return candidate


class AdminService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext, operator: str) -> None:
        self.uow = uow
        self.ctx = ctx
        self.actor = f"admin:{operator}"

    async def _by_login(self, raw_login: str) -> Account:
        login = parse_login(raw_login)
        account = await self.uow.identity.accounts.find_by_login(login.kind, login.value)
        if account is None:
            raise NotFoundError("Учётная запись не найдена.")
        return account

    async def create_account(self, data: NewAccount) -> Account:
        check_password_policy(data.password)
        if data.totp_secret:
            check_totp_secret(data.totp_secret)
        phone = normalize_phone(data.phone)
        email = validate_email(data.email) if data.email else None
        snils = normalize_snils(data.snils) if data.snils else None
        if await self.uow.identity.accounts.find_by_any(phone, email) is not None:
            raise DomainError("Учётная запись с таким телефоном или почтой уже есть.")
        if snils and await self.uow.identity.accounts.find_by_login("snils", snils) is not None:
            raise DomainError("Учётная запись с таким СНИЛС уже есть.")
        account = await self.uow.identity.accounts.add(
            Account(
                phone=phone,
                email=email,
                snils=snils,
                last_name=data.last_name,
                first_name=data.first_name,
                middle_name=data.middle_name,
                password_hash=self.ctx.hasher.hash(data.password),
                failed_password_attempts=0,
                created_at=self.ctx.gateways.clock.now(),
            )
        )
        if data.totp_secret:
            # Sealed for this account, so the id must exist first (add() flushes).
            account.totp_secret = seal_totp_secret(self.ctx, account.id, data.totp_secret)
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="account.create",
            subject_account_id=account.id,
        )
        return account

    async def unlock(self, raw_login: str) -> Account:
        account = await self._by_login(raw_login)
        was_locked = account.locked_at is not None
        account.locked_at = None
        account.failed_password_attempts = 0
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="account.unlock",
            outcome="ok" if was_locked else "not_locked",
            subject_account_id=account.id,
            via="admin",
        )
        if was_locked:
            await notify.to_account(
                self.uow,
                self.ctx,
                account_id=account.id,
                kind="account_unlocked",
                text="Ваша учётная запись разблокирована службой поддержки. Можно войти снова.",
            )
        return account

    async def reset_password(self, raw_login: str) -> str:
        """Set a temporary password (shown to the operator once) and end all sessions."""
        account = await self._by_login(raw_login)
        password = temporary_password()
        now = self.ctx.gateways.clock.now()
        account.password_hash = self.ctx.hasher.hash(password)
        account.password_changed_at = now
        account.failed_password_attempts = 0
        account.locked_at = None
        await self.uow.identity.sessions.end_all(
            account_id=account.id, now=now, reason="password_reset"
        )
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="password.reset",
            subject_account_id=account.id,
        )
        return password
