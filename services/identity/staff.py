"""Staff at sign-in: the authenticator app is required, and passwords expire.

A portal account with a staff row (services.clinic: a doctor or an
organisation's administrator) signs in with the same sign-in, with two rules on
top:

* **The authenticator app.** Until one is enrolled, the sign-in goes on after
  the SMS code to the enrolment: a new secret is generated and sealed into the
  account as every authenticator secret is (``seal_totp_secret``), shown once as
  a QR code of its otpauth URI and as text, and one code from the app must be
  accepted (``staff_members.totp_enrolled_at``). From then on the only second
  factor is the app's code.
* **Password age.** A staff password older than ``STAFF_PASSWORD_DAYS`` (or
  never set by its owner: a temporary one from ``admin create-staff``) is
  changed before the session opens.

``AuthService.complete_sign_in`` checks both again, so no session of a staff
account opens without them, whatever a dialog says.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno

from services.core import audit
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.identity.otp import OtpService, seal_totp_secret
from storage.models import Account, StaffMember
from storage.uow import UnitOfWork

ISSUER = "ЭМК Госуслуги"
# 160 bits, as authenticator apps expect (RFC 4226 recommends it).
SECRET_LENGTH = 32

MSG_ENROLLED = "Приложение для кодов уже подключено. Войдите с кодом из приложения."
MSG_NOT_STAFF = "Подключение приложения для кодов здесь нужно только сотрудникам."
MSG_STAFF_NEEDS_APP = (
    "Сотрудникам медицинской организации вход возможен только с кодом из приложения для "
    "кодов. Начните вход заново."
)
MSG_PASSWORD_EXPIRED = "Срок действия пароля истёк. Смените пароль, чтобы войти."
MSG_CODE_FIRST = "Подтвердите вход кодом из приложения для кодов. Начните вход заново."


@dataclass(frozen=True)
class StaffState:
    """What the sign-in asks of this account on top of the usual steps."""

    staff: bool = False
    enrolled: bool = False
    password_expired: bool = False


@dataclass(frozen=True)
class Enrolment:
    """The new authenticator secret, to show once (never kept in dialog data)."""

    secret: str
    uri: str

    @property
    def grouped(self) -> str:
        """The secret in groups of four, as people type it into an app."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def qr_png(uri: str) -> bytes:
    """A PNG of the QR code of `uri` (segno); small CPU work."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def _label(account: Account) -> str:
    initials = " ".join(f"{p[0]}." for p in (account.first_name, account.middle_name) if p)
    return f"{account.last_name} {initials}".strip()


def password_expired(account: Account, ctx: AppContext, now: datetime) -> bool:
    """A staff password never set by its owner, or older than STAFF_PASSWORD_DAYS."""
    changed = account.password_changed_at
    if changed is None:
        return True
    return now >= changed + timedelta(days=ctx.policy.staff_password_days)


def enrolled(account: Account, rows: list[StaffMember]) -> bool:
    return bool(account.totp_secret) and any(r.totp_enrolled_at is not None for r in rows)


class StaffSignIn:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def _account(self, account_id: int) -> Account:
        account = await self.uow.identity.accounts.get_for_update(account_id)
        if account is None:
            raise NotFoundError("Учётная запись не найдена. Начните вход заново.")
        return account

    async def state(self, account_id: int) -> StaffState:
        account = await self.uow.identity.accounts.get(account_id)
        if account is None:
            raise NotFoundError("Учётная запись не найдена. Начните вход заново.")
        return await self.state_of(account)

    async def state_of(self, account: Account) -> StaffState:
        rows = await self.uow.clinic.staff.of_account(account.id)
        if not rows:
            return StaffState()
        return StaffState(
            staff=True,
            enrolled=enrolled(account, rows),
            password_expired=password_expired(account, self.ctx, self.now),
        )

    async def begin_enrolment(self, account_id: int, tg_user: int) -> Enrolment:
        """A new authenticator secret for a staff account that has none enrolled yet.

        The secret is sealed into the account at once (the previous one, if any,
        stops working); it is enrolled only once a code from it is accepted.
        """
        account = await self._account(account_id)
        rows = await self.uow.clinic.staff.of_account(account.id)
        if not rows:
            raise DomainError(MSG_NOT_STAFF)
        if enrolled(account, rows):
            raise DomainError(MSG_ENROLLED)
        secret = pyotp.random_base32(SECRET_LENGTH)
        account.totp_secret = seal_totp_secret(self.ctx, account.id, secret)
        account.totp_last_step = None
        await audit.record(
            self.uow,
            self.ctx,
            actor=audit.telegram_actor(tg_user),
            action="staff.totp.begin",
            subject_account_id=account.id,
        )
        uri = pyotp.TOTP(secret).provisioning_uri(name=_label(account), issuer_name=ISSUER)
        return Enrolment(secret=secret, uri=uri)

    async def confirm_enrolment(self, account_id: int, raw_code: str, tg_user: int) -> None:
        """One code from the new app accepted: the authenticator is enrolled (CodeError if not)."""
        account = await self._account(account_id)
        rows = await self.uow.clinic.staff.of_account(account.id)
        if not rows:
            raise DomainError(MSG_NOT_STAFF)
        actor = audit.telegram_actor(tg_user)
        await OtpService(self.uow, self.ctx).verify_totp(account, raw_code, actor=actor)
        for row in rows:
            row.totp_enrolled_at = self.now
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor,
            action="staff.totp.enrol",
            subject_account_id=account.id,
        )

    def _app_code_recent(self, account: Account) -> bool:
        """Was a code of the app accepted within a code's lifetime (this sign-in's)?"""
        if account.totp_last_step is None:
            return False
        steps = self.ctx.policy.otp_ttl_seconds // 30 + 1
        step_now = pyotp.TOTP(pyotp.random_base32()).timecode(self.now)
        return account.totp_last_step >= step_now - steps

    async def check_ready(self, account: Account) -> None:
        """Before a staff session opens: the app enrolled, its code given, the password fresh."""
        state = await self.state_of(account)
        if not state.staff:
            return
        if not state.enrolled:
            raise DomainError(MSG_STAFF_NEEDS_APP)
        if not self._app_code_recent(account):
            raise DomainError(MSG_CODE_FIRST)
        if state.password_expired:
            raise DomainError(MSG_PASSWORD_EXPIRED)
