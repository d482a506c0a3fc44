"""The sign-in limits, kept on the server and counted from `sign_in_attempts` rows.

* **The second factor of an account.** Every wrong code — SMS, e-mail or
  authenticator, for any purpose (sign-in, recovery, a password change, an
  application) — is one row. `second_factor_max_failures` of them within
  `sign_in_limit_window_minutes` block every code of the account (none is sent,
  none is checked) for `second_factor_lock_minutes`. The lock is derived from
  the rows: it runs from the failure that reached the limit. The owner is told
  by push, by SMS and by e-mail, and the lock is audited.
* **Passwords from one Telegram account.** `password_max_failures_per_telegram`
  wrong passwords within the window, over any accounts (and logins that name
  none), refuse further passwords from that Telegram account until the oldest
  of them leaves the window.
* **Recovery.** `recovery_max_per_login` codes asked for one login, and
  `recovery_max_per_telegram` from one Telegram account, within the window.

A login that names no account is counted by its digest (`login_digest`)
exactly as an account is by its id, so the answers never tell the two apart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.core import audit, notify
from services.core.context import AppContext
from services.core.errors import DomainError
from services.core.gateways import DeliveryError
from storage.models import Account
from storage.models.identity import SignInAttempt
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

WRONG_PASSWORD = "password"
WRONG_CODE = "code"
RECOVERY = "recovery"


def _minutes(left: timedelta) -> int:
    return max(1, int(left.total_seconds() + 59) // 60)


def second_factor_locked_text(left: timedelta) -> str:
    return (
        "Ввод кодов подтверждения временно заблокирован: введено слишком много неверных "
        f"кодов. Попробуйте снова через {_minutes(left)} мин."
    )


class SecondFactorLocked(DomainError):
    def __init__(self, left: timedelta) -> None:
        super().__init__(second_factor_locked_text(left))


class TooManyPasswords(DomainError):
    def __init__(self, left: timedelta) -> None:
        super().__init__(
            "Слишком много неверных попыток входа с этого аккаунта Telegram. "
            f"Попробуйте снова через {_minutes(left)} мин."
        )


class TooManyRecoveries(DomainError):
    def __init__(self, left: timedelta) -> None:
        super().__init__(
            "Слишком много запросов на восстановление доступа. "
            f"Попробуйте снова через {_minutes(left)} мин."
        )


def login_digest(ctx: AppContext, kind: str, value: str) -> str:
    """A login (normalised) as the limits know it: an HMAC, never the login itself."""
    message = f"login:{kind}:{value}".encode()
    return hmac.new(ctx.secret_key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Target:
    """Whom an attempt is about: an account, or a login that names none."""

    account_id: int | None
    login_digest: str | None = None

    def key(self) -> dict[str, int | str | None]:
        if self.account_id is not None:
            return {"account_id": self.account_id}
        return {"login_digest": self.login_digest or "-"}


class Limits:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.ctx.policy.sign_in_limit_window_minutes)

    async def _add(self, kind: str, target: Target, telegram_user_id: int | None) -> None:
        await self.uow.identity.accounts.add_attempt(
            SignInAttempt(
                at=self.now,
                kind=kind,
                account_id=target.account_id,
                login_digest=target.login_digest,
                telegram_user_id=telegram_user_id,
            )
        )

    # -- the second factor ------------------------------------------------

    async def second_factor_lock_left(self, target: Target) -> timedelta | None:
        """How long the target's codes stay blocked; None when they are not."""
        repo = self.uow.identity.accounts
        latest = await repo.latest_attempt(WRONG_CODE, **target.key())  # type: ignore[arg-type]
        if latest is None:
            return None
        until = latest.at + timedelta(minutes=self.ctx.policy.second_factor_lock_minutes)
        if self.now >= until:
            return None
        failures = await repo.count_attempts(
            WRONG_CODE,
            since=latest.at - self.window,
            until=latest.at,
            **target.key(),  # type: ignore[arg-type]
        )
        if failures < self.ctx.policy.second_factor_max_failures:
            return None
        return until - self.now

    async def check_second_factor(self, target: Target, *, actor: str, step: str) -> None:
        """Raise SecondFactorLocked (audited) while the target's codes are blocked."""
        left = await self.second_factor_lock_left(target)
        if left is None:
            return
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor,
            action="sign_in.code",
            outcome="blocked",
            subject_account_id=target.account_id,
            step=step,
        )
        raise SecondFactorLocked(left)

    async def wrong_code(self, target: Target, account: Account | None, *, actor: str) -> bool:
        """Count a wrong code; the one that reaches the limit blocks the second factor (True)."""
        await self._add(WRONG_CODE, target, None)
        failures = await self.uow.identity.accounts.count_attempts(
            WRONG_CODE,
            since=self.now - self.window,
            **target.key(),  # type: ignore[arg-type]
        )
        if failures < self.ctx.policy.second_factor_max_failures:
            return False
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor,
            action="sign_in.second_factor",
            outcome="locked",
            subject_account_id=target.account_id,
            failures=failures,
            minutes=self.ctx.policy.second_factor_lock_minutes,
        )
        if account is not None:
            await self._tell_owner(account)
        return True

    async def _tell_owner(self, account: Account) -> None:
        minutes = self.ctx.policy.second_factor_lock_minutes
        text = (
            f"Ввод кодов подтверждения для вашей учётной записи заблокирован на {minutes} мин.: "
            "введено слишком много неверных кодов. Если это были не вы, смените пароль."
        )
        await notify.to_account(
            self.uow, self.ctx, account_id=account.id, kind="second_factor_locked", text=text
        )
        gateways = self.ctx.gateways
        try:
            await gateways.sms.send(account.phone, f"Госуслуги, ЭМК: {text}")
        except DeliveryError:
            log.warning(
                "the second-factor lock notice to account %s was not sent by SMS", account.id
            )
        if account.email:
            try:
                await gateways.mail.send(account.email, "Ввод кодов заблокирован", text)
            except DeliveryError:
                log.warning(
                    "the second-factor lock notice to account %s was not sent by e-mail",
                    account.id,
                )

    # -- passwords from one Telegram account ---------------------------------

    async def check_passwords(self, telegram_user_id: int) -> None:
        """Raise TooManyPasswords (audited) once the Telegram account used up its guesses."""
        repo = self.uow.identity.accounts
        since = self.now - self.window
        failures = await repo.count_attempts(
            WRONG_PASSWORD, since=since, telegram_user_id=telegram_user_id
        )
        if failures < self.ctx.policy.password_max_failures_per_telegram:
            return
        oldest = await repo.oldest_attempt_since(
            WRONG_PASSWORD, since, telegram_user_id=telegram_user_id
        )
        await audit.record(
            self.uow,
            self.ctx,
            actor=audit.telegram_actor(telegram_user_id),
            action="sign_in.password",
            outcome="throttled",
            failures=failures,
        )
        raise TooManyPasswords((oldest or self.now) + self.window - self.now)

    async def wrong_password(self, target: Target, telegram_user_id: int) -> None:
        await self._add(WRONG_PASSWORD, target, telegram_user_id)

    async def wrong_passwords_of(self, target: Target) -> int:
        """All wrong passwords of a login that names no account (it never succeeds)."""
        return await self.uow.identity.accounts.count_attempts(
            WRONG_PASSWORD,
            **target.key(),  # type: ignore[arg-type]
        )

    # -- recovery -----------------------------------------------------------

    async def last_recovery(self, target: Target) -> SignInAttempt | None:
        return await self.uow.identity.accounts.latest_attempt(
            RECOVERY,
            **target.key(),  # type: ignore[arg-type]
        )

    async def recovery(self, target: Target, telegram_user_id: int) -> None:
        """Count a recovery request, or raise TooManyRecoveries (audited) past a limit."""
        repo = self.uow.identity.accounts
        policy = self.ctx.policy
        since = self.now - self.window
        checks: list[tuple[dict[str, int | str | None], int]] = [
            (target.key(), policy.recovery_max_per_login),
            ({"telegram_user_id": telegram_user_id}, policy.recovery_max_per_telegram),
        ]
        for key, limit in checks:
            count = await repo.count_attempts(RECOVERY, since=since, **key)  # type: ignore[arg-type]
            if count >= limit:
                oldest = await repo.oldest_attempt_since(RECOVERY, since, **key)  # type: ignore[arg-type]
                await audit.record(
                    self.uow,
                    self.ctx,
                    actor=audit.telegram_actor(telegram_user_id),
                    action="sign_in.recovery",
                    outcome="throttled",
                    subject_account_id=target.account_id,
                    per="login" if "telegram_user_id" not in key else "telegram",
                )
                raise TooManyRecoveries((oldest or self.now) + self.window - self.now)
        await self._add(RECOVERY, target, telegram_user_id)
