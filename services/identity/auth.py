"""Signing in to the portal account, sessions, lockout, recovery and password change."""

from __future__ import annotations

import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from services.core import audit, notify
from services.core.access import CurrentUser, Permission, require
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.hashing import PasswordHasher
from services.core.journal import sign_in_text
from services.core.validators import normalize_phone, parse_login
from services.core.work import Work, in_unit
from services.identity.limits import Limits, Target, login_digest, second_factor_locked_text
from services.identity.otp import (
    Channel,
    CodeError,
    IssuedCode,
    OtpService,
    Purpose,
    ResendTooSoon,
    normalize_code,
)
from services.identity.passwords import check_password_policy
from services.identity.staff import StaffSignIn, password_expired
from storage.models import Account, AuthSession, TelegramBinding
from storage.uow import UnitOfWork

LOCKED_MESSAGE = (
    "Учётная запись заблокирована после трёх неверных попыток ввода пароля. "
    "Чтобы разблокировать её, нажмите «Восстановить доступ»: мы отправим код на "
    "электронную почту учётной записи, и вы зададите новый пароль. "
    "Если доступа к почте нет, обратитесь в службу поддержки."
)


class AccountLocked(DomainError):
    def __init__(self) -> None:
        super().__init__(LOCKED_MESSAGE)


class WrongPassword(DomainError):
    """The same answer for a wrong password and for a login that names no account."""

    def __init__(self, tries_left: int, *, at_sign_in: bool = True) -> None:
        what = "Неверный логин или пароль" if at_sign_in else "Неверный пароль"
        super().__init__(
            f"{what}. Осталось попыток: {tries_left}. После трёх неверных попыток "
            "подряд учётная запись блокируется."
        )
        self.tries_left = tries_left


# What recovery answers for any login: whether it names an account is not told.
RECOVERY_SENT = "Если такая учётная запись есть, мы отправили код на её почту."


class PhoneMismatch(DomainError):
    pass


class _HashChanged(Exception):
    """The password changed between reading its hash and recording a check against it."""


@dataclass(frozen=True)
class PasswordCheck:
    """A typed password checked against `checked_hash` off the event loop."""

    checked_hash: str
    matches: bool
    rehashed: str | None = None


@dataclass(frozen=True)
class AccountRef:
    """What the sign-in dialog keeps between steps (never the password).

    `account_id` is None for a login that names no account: the sign-in goes on
    to the password all the same and answers as for a wrong one. `login_ref`
    stands for the login as typed (a digest, never the login itself).
    """

    account_id: int | None
    login_ref: str
    has_totp: bool = False
    has_email: bool = False
    locked: bool = False


@dataclass(frozen=True)
class SessionState:
    user: CurrentUser | None
    expired: bool
    # Why the session ended here: "idle", "lifetime" or "locked" (empty when it did not).
    reason: str = ""


@dataclass(frozen=True)
class LoginHistoryEntry:
    at: datetime
    outcome: str
    outcome_text: str


# How stale a session's last_seen_at may get before an update touches it again:
# the idle limit is counted in minutes, so a write per update buys nothing.
TOUCH_EVERY = timedelta(seconds=30)


def _display_name(account: Account) -> str:
    return " ".join(p for p in (account.first_name, account.middle_name) if p)


def _ref(account: Account, login_ref: str) -> AccountRef:
    return AccountRef(
        account_id=account.id,
        login_ref=login_ref,
        has_totp=bool(account.totp_secret),
        has_email=bool(account.email),
        locked=account.locked_at is not None,
    )


class AuthService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx
        self.otp = OtpService(uow, ctx)

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def _account(self, account_id: int) -> Account:
        account = await self.uow.identity.accounts.get(account_id)
        if account is None:
            raise NotFoundError("Учётная запись не найдена. Начните вход заново.")
        return account

    async def _audit(self, *, actor: str, action: str, **fields: Any) -> None:
        await audit.record(self.uow, self.ctx, actor=actor, action=action, **fields)

    async def _login_event(self, account_id: int | None, tg_user: int, outcome: str) -> None:
        """A sign-in attempt for «История входов», which reads the audit journal.

        Most attempts have their own audit row already (sign_in, sign_in.password,
        sign_in.phone); only a wrong code at sign-in gets one here (sign_in.code).
        Nothing is written to login_events any more.
        """
        if outcome == "wrong_code":
            await self._audit(
                actor=audit.telegram_actor(tg_user),
                action="sign_in.code",
                outcome="wrong_code",
                subject_account_id=account_id,
            )

    # -- sign-in --------------------------------------------------------

    async def find_account(self, raw_login: str, tg_user: int) -> AccountRef:
        """The login's account, or a reference to no account: the answer does not tell."""
        login = parse_login(raw_login)
        digest = login_digest(self.ctx, login.kind, login.value)
        account = await self.uow.identity.accounts.find_by_login(login.kind, login.value)
        actor = audit.telegram_actor(tg_user)
        if account is None:
            await self._audit(
                actor=actor,
                action="sign_in.login",
                outcome="unknown_login",
                login_kind=login.kind,
            )
            return AccountRef(account_id=None, login_ref=digest)
        await self._audit(
            actor=actor,
            action="sign_in.login",
            subject_account_id=account.id,
            login_kind=login.kind,
        )
        return _ref(account, digest)

    async def _refuse_locked(self, account: Account, tg_user: int) -> None:
        await self._login_event(account.id, tg_user, "locked_attempt")
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="sign_in.password",
            outcome="locked",
            subject_account_id=account.id,
        )
        raise AccountLocked()

    async def password_to_check(
        self, account_id: int | None, login_ref: str, tg_user: int
    ) -> str | None:
        """At sign-in: the hash to check against (None for a login that names no account).

        A Telegram account past its guesses is refused first, then a locked
        account — and a login that names none once it had as many wrong
        passwords as lock an account.
        """
        limits = Limits(self.uow, self.ctx)
        await limits.check_passwords(tg_user)
        if account_id is not None:
            return await self.stored_password(account_id, tg_user)
        failures = await limits.wrong_passwords_of(Target(None, login_ref))
        if failures >= self.ctx.policy.password_max_failures:
            await self._audit(
                actor=audit.telegram_actor(tg_user),
                action="sign_in.password",
                outcome="unknown_login",
                failures=failures,
            )
            raise AccountLocked()
        return None

    async def record_unknown_login_password(self, login_ref: str, tg_user: int) -> NoReturn:
        """A password typed for a login that names no account: answered as a wrong one."""
        limits = Limits(self.uow, self.ctx)
        target = Target(None, login_ref)
        await limits.wrong_password(target, tg_user)
        failures = await limits.wrong_passwords_of(target)
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="sign_in.password",
            outcome="unknown_login",
            failures=failures,
        )
        tries_left = self.ctx.policy.password_max_failures - failures
        if tries_left > 0:
            raise WrongPassword(tries_left)
        raise AccountLocked()

    async def stored_password(self, account_id: int, tg_user: int) -> str:
        """The hash to check a typed password against; a locked account is refused here."""
        account = await self._account(account_id)
        if account.locked_at is not None:
            await self._refuse_locked(account, tg_user)
        return account.password_hash

    async def record_password_check(
        self, account_id: int, tg_user: int, check: PasswordCheck
    ) -> AccountRef:
        """Apply the outcome of a password check made off the event loop.

        Raise AccountLocked or WrongPassword (after recording the failure), else go
        on. Raises `_HashChanged` when the password changed since the hash was read.
        """
        account = await self.uow.identity.accounts.get_for_update(account_id)
        if account is None:
            raise NotFoundError("Учётная запись не найдена. Начните вход заново.")
        if account.password_hash != check.checked_hash:
            raise _HashChanged()
        actor = audit.telegram_actor(tg_user)
        if account.locked_at is not None:
            await self._refuse_locked(account, tg_user)
        if check.matches:
            account.failed_password_attempts = 0
            if check.rehashed is not None:
                account.password_hash = check.rehashed
            await self._audit(
                actor=actor,
                action="sign_in.password",
                subject_account_id=account.id,
            )
            return _ref(account, "")
        await Limits(self.uow, self.ctx).wrong_password(Target(account.id), tg_user)
        account.failed_password_attempts += 1
        limit = self.ctx.policy.password_max_failures
        tries_left = limit - account.failed_password_attempts
        await self._login_event(account.id, tg_user, "wrong_password")
        await self._audit(
            actor=actor,
            action="sign_in.password",
            outcome="wrong_password",
            subject_account_id=account.id,
            failures=account.failed_password_attempts,
        )
        if tries_left > 0:
            raise WrongPassword(tries_left)
        await self._lock(account, actor)
        raise AccountLocked()

    async def _lock(self, account: Account, actor: str) -> None:
        account.locked_at = self.now
        await self.uow.identity.sessions.end_all(
            account_id=account.id, now=self.now, reason="locked"
        )
        await self._audit(actor=actor, action="account.lock", subject_account_id=account.id)
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=account.id,
            kind="account_locked",
            text=(
                "Ваша учётная запись заблокирована: трижды подряд введён неверный пароль. "
                "Если это были не вы, восстановите доступ и задайте новый пароль."
            ),
        )

    async def needs_phone_confirmation(self, account_id: int, tg_user: int) -> bool:
        binding = await self.uow.identity.bindings.by_telegram_user(tg_user)
        return binding is None or binding.account_id != account_id

    async def confirm_phone(
        self, account_id: int, tg_user: int, phone: str, contact_user_id: int | None
    ) -> None:
        """The contact shared with the reply-keyboard button must be the person's own."""
        account = await self._account(account_id)
        actor = audit.telegram_actor(tg_user)
        if contact_user_id != tg_user:
            await self._audit(
                actor=actor,
                action="sign_in.phone",
                outcome="not_own_contact",
                subject_account_id=account.id,
            )
            raise ValidationError(
                "Отправьте свой номер телефона кнопкой «Поделиться номером» внизу экрана."
            )
        try:
            normalized = normalize_phone(phone)
        except ValidationError:
            normalized = ""
        if normalized != account.phone:
            await self._login_event(account.id, tg_user, "phone_mismatch")
            await self._audit(
                actor=actor,
                action="sign_in.phone",
                outcome="mismatch",
                subject_account_id=account.id,
            )
            raise PhoneMismatch(
                "Номер телефона этого аккаунта Telegram не совпадает с номером, указанным в "
                "учётной записи Госуслуг. Войти с этого аккаунта Telegram нельзя. Если номер "
                "сменился, обновите его в профиле на Госуслугах."
            )
        await self._audit(actor=actor, action="sign_in.phone", subject_account_id=account.id)

    async def send_code(
        self, account_id: int, purpose: str, channel: Channel, tg_user: int, action_ref: str = ""
    ) -> IssuedCode:
        account = await self._account(account_id)
        return await self.otp.issue(
            account,
            purpose,  # type: ignore[arg-type]
            channel,
            action_ref=action_ref,
            actor=audit.telegram_actor(tg_user),
        )

    async def check_code(
        self,
        account_id: int,
        purpose: str,
        channel: Channel,
        challenge_id: int | None,
        raw_code: str,
        tg_user: int,
        action_ref: str = "",
    ) -> None:
        actor = audit.telegram_actor(tg_user)
        if channel == "totp":
            account = await self.uow.identity.accounts.get_for_update(account_id)
            if account is None:
                raise NotFoundError("Учётная запись не найдена. Начните вход заново.")
            await self.otp.verify_totp(account, raw_code, actor=actor)
        else:
            if challenge_id is None:
                raise DomainError("Сначала запросите код.")
            await self.otp.verify(
                challenge_id,
                account_id=account_id,
                purpose=purpose,  # type: ignore[arg-type]
                action_ref=action_ref,
                raw_code=raw_code,
                actor=actor,
            )

    async def record_wrong_code(self, account_id: int, tg_user: int) -> None:
        await self._login_event(account_id, tg_user, "wrong_code")

    async def note_code_refused(
        self, account_id: int, purpose: str, channel: Channel, outcome: str, tg_user: int
    ) -> None:
        """A code refused before it reached the service (e.g. authenticator tries used up)."""
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="sign_in.code",
            outcome=outcome,
            subject_account_id=account_id,
            purpose=purpose,
            channel=channel,
        )

    async def complete_sign_in(self, account_id: int, tg_user: int, chat_id: int) -> CurrentUser:
        """After the password, the phone and the second factor: bind and open a session.

        A staff account also needs its authenticator enrolled, a code from it given
        and a password not expired (services.identity.staff).
        """
        account = await self._account(account_id)
        if account.locked_at is not None:
            raise AccountLocked()
        await StaffSignIn(self.uow, self.ctx).check_ready(account)
        actor = audit.telegram_actor(tg_user)
        binding = await self.uow.identity.bindings.by_telegram_user(tg_user)
        new_binding = binding is None or binding.account_id != account.id
        if binding is None:
            binding = await self.uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=tg_user,
                    chat_id=chat_id,
                    account_id=account.id,
                    created_at=self.now,
                )
            )
        else:
            binding.account_id = account.id
            binding.chat_id = chat_id
            binding.bot_blocked_at = None
        await self.uow.identity.sessions.end_all(
            telegram_user_id=tg_user, now=self.now, reason="replaced"
        )
        session = await self.uow.identity.sessions.add(
            AuthSession(
                account_id=account.id,
                telegram_user_id=tg_user,
                started_at=self.now,
                last_seen_at=self.now,
            )
        )
        account.failed_password_attempts = 0
        await self._login_event(account.id, tg_user, "success")
        await self._audit(
            actor=actor,
            action="sign_in",
            actor_account_id=account.id,
            subject_account_id=account.id,
            session_id=session.id,
            new_binding=new_binding,
        )
        if new_binding:
            await notify.to_account(
                self.uow,
                self.ctx,
                account_id=account.id,
                except_chat_id=chat_id,
                kind="new_binding",
                text=(
                    "В вашу учётную запись выполнен вход из другого аккаунта Telegram. "
                    "Если это были не вы, смените пароль."
                ),
            )
        return CurrentUser(account.id, session.id, _display_name(account))

    # -- sessions -------------------------------------------------------

    async def resolve_session(self, tg_user: int, *, touch: bool = True) -> SessionState:
        """The person's live session (touched unless `touch` is false); an idle one ends here.

        One query reads the session with its account. The session is touched at
        most once every `TOUCH_EVERY`, so most updates write nothing here.
        """
        found = await self.uow.identity.sessions.open_with_account(tg_user)
        if found is None:
            return SessionState(None, expired=False)
        session, account = found
        now = self.now
        idle = timedelta(minutes=self.ctx.policy.session_idle_minutes)
        lifetime = timedelta(hours=self.ctx.policy.session_max_hours)
        reason = ""
        if now - session.started_at >= lifetime:
            reason = "lifetime"
        elif now - session.last_seen_at > idle:
            reason = "idle"
        if reason:
            session.ended_at = now
            session.end_reason = reason
            await self._audit(
                actor="system",
                action="session.expire",
                subject_account_id=session.account_id,
                session_id=session.id,
                reason=reason,
            )
            return SessionState(None, expired=True, reason=reason)
        if account.locked_at is not None:
            session.ended_at = now
            session.end_reason = "locked"
            return SessionState(None, expired=True, reason="locked")
        if touch and now - session.last_seen_at >= TOUCH_EVERY:
            session.last_seen_at = now
        return SessionState(CurrentUser(account.id, session.id, _display_name(account)), False)

    async def logout(self, tg_user: int) -> bool:
        session = await self.uow.identity.sessions.open_for_telegram_user(tg_user)
        if session is None:
            return False
        await self.uow.identity.sessions.end_all(
            telegram_user_id=tg_user, now=self.now, reason="logout"
        )
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="sign_out",
            actor_account_id=session.account_id,
            subject_account_id=session.account_id,
            session_id=session.id,
        )
        return True

    async def login_history(self, user: CurrentUser, limit: int = 10) -> list[LoginHistoryEntry]:
        """The account's recent sign-in attempts, newest first, read from the audit journal.

        The owner's own only (AccessDenied otherwise).
        """
        decision = await require(
            self.uow,
            self.ctx,
            user,
            user.subject_account_id,
            Permission.READ_ACCOUNT_HISTORY,
            action="login_history.view",
        )
        rows = await self.uow.core.audit.sign_ins(decision.subject_account_id, limit)
        await self._audit(
            actor=f"account:{user.account_id}",
            action="login_history.view",
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            **decision.audit_fields(),
        )
        return [
            LoginHistoryEntry(row.at, row.outcome, sign_in_text(row.action, row.outcome))
            for row in rows
        ]

    # -- password change (signed in) -----------------------------------

    async def apply_new_password(
        self, user: CurrentUser, new_hash: str, tg_user: int, chat_id: int
    ) -> int:
        """Store the new hash; every other session of the account ends. Returns how many."""
        account = await self._account(user.account_id)
        account.password_hash = new_hash
        account.password_changed_at = self.now
        ended = await self.uow.identity.sessions.end_all(
            account_id=account.id,
            now=self.now,
            reason="password_changed",
            except_id=user.session_id,
        )
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="password.change",
            actor_account_id=account.id,
            subject_account_id=account.id,
            ended_sessions=ended,
        )
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=account.id,
            except_chat_id=chat_id,
            kind="password_changed",
            text="Пароль вашей учётной записи изменён. Если это были не вы, восстановите доступ.",
        )
        return ended

    async def apply_expired_password(self, account_id: int, new_hash: str, tg_user: int) -> None:
        """At a staff sign-in: the expired password replaced; every session of the account ends."""
        account = await self._account(account_id)
        if account.locked_at is not None:
            raise AccountLocked()
        if not password_expired(account, self.ctx, self.now):
            raise DomainError("Пароль уже изменён. Продолжите вход.")
        account.password_hash = new_hash
        account.password_changed_at = self.now
        ended = await self.uow.identity.sessions.end_all(
            account_id=account.id, now=self.now, reason="password_changed"
        )
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="password.change",
            subject_account_id=account.id,
            reason="expired",
            ended_sessions=ended,
        )

    # -- recovery -------------------------------------------------------

    async def request_recovery(
        self, account_id: int | None, login_ref: str, tg_user: int
    ) -> int | None:
        """Send a recovery code to the account's e-mail, if there is such an account.

        Whatever the login, the answer is the same (`RECOVERY_SENT`); the code
        window then takes codes either way. Returns the challenge to check
        against, or None when nothing was sent. Throttled per login and per
        Telegram account (`Limits.recovery`), with the resend cooldown of a code.
        """
        actor = audit.telegram_actor(tg_user)
        limits = Limits(self.uow, self.ctx)
        target = Target(account_id, login_ref)
        last = await limits.last_recovery(target)
        cooldown = timedelta(seconds=self.ctx.policy.otp_resend_seconds)
        if last is not None and self.now < last.at + cooldown:
            wait = last.at + cooldown - self.now
            raise DomainError(
                f"Новый код можно запросить через {max(1, int(wait.total_seconds() + 0.999))} с."
            )
        await limits.check_second_factor(target, actor=actor, step="recovery")
        await limits.recovery(target, tg_user)
        account = await self.uow.identity.accounts.get(account_id) if account_id else None
        outcome = "ok" if account and account.email else "no_email" if account else "unknown_login"
        await self._audit(
            actor=actor,
            action="recovery.start",
            outcome=outcome,
            subject_account_id=account.id if account else None,
        )
        if account is None or not account.email:
            return None
        try:
            issued = await self.otp.issue(account, Purpose.RECOVERY, Channel.EMAIL, actor=actor)
        except ResendTooSoon as exc:
            return exc.challenge_id
        return issued.challenge_id

    async def check_recovery_code(
        self,
        account_id: int | None,
        login_ref: str,
        challenge_id: int | None,
        raw_code: str,
        tg_user: int,
    ) -> None:
        """Accept the recovery code, or raise CodeError exactly as for any login.

        When no code was sent (no such account, or no e-mail on it) every code
        is wrong, with the same tries, lifetime and limits as a real one.
        """
        if account_id is not None and challenge_id is not None:
            await self.check_code(
                account_id, Purpose.RECOVERY, Channel.EMAIL, challenge_id, raw_code, tg_user
            )
            return
        actor = audit.telegram_actor(tg_user)
        limits = Limits(self.uow, self.ctx)
        target = Target(account_id, login_ref)
        try:
            normalize_code(raw_code)
        except ValidationError:
            await self.note_code_refused(
                account_id or 0, Purpose.RECOVERY, Channel.EMAIL, "malformed", tg_user
            )
            raise
        await limits.check_second_factor(target, actor=actor, step="verify")
        policy = self.ctx.policy
        last = await limits.last_recovery(target)
        outcome = "wrong"
        try:
            if last is None or self.now >= last.at + timedelta(seconds=policy.otp_ttl_seconds):
                outcome = "expired"
                raise CodeError("Срок действия кода истёк. Запросите новый код.", final=True)
            tries = await self.uow.identity.accounts.count_attempts(
                "code",
                since=last.at,
                **target.key(),  # type: ignore[arg-type]
            )
            if tries >= policy.otp_max_attempts:
                outcome = "exhausted"
                raise CodeError("Попытки ввода кода исчерпаны. Запросите новый код.", final=True)
            if await limits.wrong_code(target, None, actor=actor):
                lock = timedelta(minutes=policy.second_factor_lock_minutes)
                raise CodeError(second_factor_locked_text(lock), final=True)
            left = policy.otp_max_attempts - tries - 1
            if left <= 0:
                raise CodeError(
                    "Неверный код. Попытки ввода исчерпаны. Запросите новый код.", final=True
                )
            raise CodeError(f"Неверный код. Осталось попыток: {left}.")
        finally:
            await self._audit(
                actor=actor,
                action="otp.verify",
                outcome=outcome,
                subject_account_id=account_id,
                purpose=Purpose.RECOVERY,
                channel=Channel.EMAIL,
                challenge_id=None,
            )

    async def apply_recovery(self, account_id: int, new_hash: str, tg_user: int) -> None:
        """Store the new password's hash, unlock the account and end all its sessions."""
        account = await self._account(account_id)
        actor = audit.telegram_actor(tg_user)
        was_locked = account.locked_at is not None
        account.password_hash = new_hash
        account.password_changed_at = self.now
        account.failed_password_attempts = 0
        account.locked_at = None
        await self.uow.identity.sessions.end_all(
            account_id=account.id, now=self.now, reason="recovery"
        )
        await self._audit(actor=actor, action="recovery.finish", subject_account_id=account.id)
        if was_locked:
            await self._audit(
                actor=actor,
                action="account.unlock",
                subject_account_id=account.id,
                via="recovery",
            )
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=account.id,
            kind="password_recovered",
            text=(
                "Доступ к учётной записи восстановлен, пароль изменён. "
                "Если это были не вы, срочно обратитесь в службу поддержки."
            ),
        )


# A hash of a random password per hasher: a login that names no account is
# checked against it, so that it takes as long as a real account's check.
_DUMMY_HASHES: weakref.WeakKeyDictionary[PasswordHasher, str] = weakref.WeakKeyDictionary()


class Passwords:
    """The use cases that hash or check a password, each in short units of work.

    The argon2 work runs in the CPU pool between two units of work, so no
    transaction is open (and no row is locked) while a password is hashed.
    """

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    def _auth(self, uow: UnitOfWork) -> AuthService:
        return AuthService(uow, self.ctx)

    async def _check(self, stored: str, password: str) -> PasswordCheck:
        hasher, cpu = self.ctx.hasher, self.ctx.cpu
        matches = await cpu.run(hasher.verify, stored, password)
        rehashed = None
        if matches and hasher.needs_rehash(stored):
            rehashed = await cpu.run(hasher.hash, password)
        return PasswordCheck(stored, matches, rehashed)

    async def _dummy_hash(self) -> str:
        hasher = self.ctx.hasher
        cached = _DUMMY_HASHES.get(hasher)
        if cached is None:
            cached = await self.ctx.cpu.run(hasher.hash, secrets.token_urlsafe(16))
            _DUMMY_HASHES[hasher] = cached
        return cached

    async def sign_in_password(
        self, account_id: int | None, login_ref: str, password: str, tg_user: int
    ) -> AccountRef:
        """The password step of the sign-in, for any login.

        A login that names no account is checked against a dummy argon2 hash and
        answered exactly as a wrong password (WrongPassword, then AccountLocked).
        Raises TooManyPasswords once this Telegram account used up its guesses.
        """
        if account_id is not None:
            return await self.check_password(account_id, password, tg_user, login_ref=login_ref)
        await in_unit(
            self.work,
            lambda uow: self._auth(uow).password_to_check(None, login_ref, tg_user),
        )
        dummy = await self._dummy_hash()
        await self.ctx.cpu.run(self.ctx.hasher.verify, dummy, password)
        await in_unit(
            self.work,
            lambda uow: self._auth(uow).record_unknown_login_password(login_ref, tg_user),
        )
        raise AssertionError("unreachable: a login that names no account never signs in")

    async def check_password(
        self, account_id: int, password: str, tg_user: int, *, login_ref: str | None = None
    ) -> AccountRef:
        """Raise AccountLocked or WrongPassword (after recording the failure), else go on.

        With `login_ref` (at sign-in) the Telegram account's guesses are limited too.
        """
        for _ in range(3):
            if login_ref is None:
                stored = await in_unit(
                    self.work, lambda uow: self._auth(uow).stored_password(account_id, tg_user)
                )
            else:
                found = await in_unit(
                    self.work,
                    lambda uow: self._auth(uow).password_to_check(account_id, login_ref, tg_user),
                )
                assert found is not None
                stored = found
            check = await self._check(stored, password)
            try:
                return await in_unit(
                    self.work,
                    lambda uow, check=check: self._auth(uow).record_password_check(  # type: ignore[misc]
                        account_id, tg_user, check
                    ),
                )
            except _HashChanged:
                continue  # the password was just changed: check against the new one
        raise DomainError("Не удалось проверить пароль. Попробуйте ещё раз.")

    async def verify_current_password(self, user: CurrentUser, password: str, tg_user: int) -> None:
        """The same rule as at sign-in: wrong passwords count toward the lock."""
        try:
            await self.check_password(user.account_id, password, tg_user)
        except WrongPassword as exc:
            raise WrongPassword(exc.tries_left, at_sign_in=False) from None

    async def set_new_password(
        self, user: CurrentUser, new_password: str, tg_user: int, chat_id: int
    ) -> int:
        """Set the password; every other session of the account ends. Returns how many."""
        check_password_policy(new_password)
        stored = await in_unit(
            self.work, lambda uow: self._auth(uow).stored_password(user.account_id, tg_user)
        )
        if await self.ctx.cpu.run(self.ctx.hasher.verify, stored, new_password):
            raise ValidationError("Новый пароль должен отличаться от текущего. Придумайте другой.")
        new_hash = await self.ctx.cpu.run(self.ctx.hasher.hash, new_password)
        return await in_unit(
            self.work,
            lambda uow: self._auth(uow).apply_new_password(user, new_hash, tg_user, chat_id),
        )

    async def replace_expired_password(
        self, account_id: int, new_password: str, tg_user: int
    ) -> None:
        """A staff password past STAFF_PASSWORD_DAYS, changed at sign-in (the same policy)."""
        check_password_policy(new_password)
        stored = await in_unit(
            self.work, lambda uow: self._auth(uow).stored_password(account_id, tg_user)
        )
        if await self.ctx.cpu.run(self.ctx.hasher.verify, stored, new_password):
            raise ValidationError("Новый пароль должен отличаться от текущего. Придумайте другой.")
        new_hash = await self.ctx.cpu.run(self.ctx.hasher.hash, new_password)
        await in_unit(
            self.work,
            lambda uow: self._auth(uow).apply_expired_password(account_id, new_hash, tg_user),
        )

    async def finish_recovery(self, account_id: int, new_password: str, tg_user: int) -> None:
        """Set a new password, unlock the account and end all its sessions."""
        check_password_policy(new_password)
        new_hash = await self.ctx.cpu.run(self.ctx.hasher.hash, new_password)
        await in_unit(
            self.work, lambda uow: self._auth(uow).apply_recovery(account_id, new_hash, tg_user)
        )
