"""Signing in to the portal account, sessions, lockout, recovery and password change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.core import audit, notify
from services.core.access import CurrentUser, Permission, require
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.validators import normalize_phone, parse_login
from services.core.work import Work, in_unit
from services.identity.otp import Channel, IssuedCode, OtpService, mask_email
from services.identity.passwords import check_password_policy
from storage.models import Account, AuthSession, LoginEvent, TelegramBinding
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
    def __init__(self, tries_left: int) -> None:
        super().__init__(
            f"Неверный пароль. Осталось попыток: {tries_left}. После трёх неверных попыток "
            "подряд учётная запись блокируется."
        )
        self.tries_left = tries_left


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
    """What the sign-in dialog keeps between steps (never the password)."""

    account_id: int
    has_totp: bool
    has_email: bool
    locked: bool


@dataclass(frozen=True)
class SessionState:
    user: CurrentUser | None
    expired: bool


@dataclass(frozen=True)
class LoginHistoryEntry:
    at: datetime
    outcome: str
    outcome_text: str


# How stale a session's last_seen_at may get before an update touches it again:
# the idle limit is counted in minutes, so a write per update buys nothing.
TOUCH_EVERY = timedelta(seconds=30)

OUTCOME_TEXT = {
    "success": "успешный вход",
    "wrong_password": "неверный пароль",
    "locked": "учётная запись заблокирована",
    "locked_attempt": "попытка входа в заблокированную учётную запись",
    "wrong_code": "неверный код",
    "phone_mismatch": "номер телефона не совпал",
}


def _display_name(account: Account) -> str:
    return " ".join(p for p in (account.first_name, account.middle_name) if p)


def _ref(account: Account) -> AccountRef:
    return AccountRef(
        account_id=account.id,
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
        await self.uow.identity.login_events.add(
            LoginEvent(
                account_id=account_id, telegram_user_id=tg_user, at=self.now, outcome=outcome
            )
        )

    # -- sign-in --------------------------------------------------------

    async def find_account(self, raw_login: str, tg_user: int) -> AccountRef:
        login = parse_login(raw_login)
        account = await self.uow.identity.accounts.find_by_login(login.kind, login.value)
        if account is None:
            await self._audit(
                actor=audit.telegram_actor(tg_user),
                action="sign_in.login",
                outcome="unknown_login",
                login_kind=login.kind,
            )
            raise NotFoundError(
                "Учётная запись с таким логином не найдена. Проверьте телефон, почту или СНИЛС "
                "и введите ещё раз."
            )
        return _ref(account)

    async def _refuse_locked(self, account: Account, tg_user: int) -> None:
        await self._login_event(account.id, tg_user, "locked_attempt")
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="sign_in.password",
            outcome="locked",
            subject_account_id=account.id,
        )
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
            return _ref(account)
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

    async def complete_sign_in(self, account_id: int, tg_user: int, chat_id: int) -> CurrentUser:
        """After the password, the phone and the second factor: bind and open a session."""
        account = await self._account(account_id)
        if account.locked_at is not None:
            raise AccountLocked()
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
        if now - session.last_seen_at > idle:
            session.ended_at = now
            session.end_reason = "idle"
            await self._audit(
                actor="system",
                action="session.expire",
                subject_account_id=session.account_id,
                session_id=session.id,
            )
            return SessionState(None, expired=True)
        if account.locked_at is not None:
            session.ended_at = now
            session.end_reason = "locked"
            return SessionState(None, expired=True)
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
        """The account's recent sign-ins: the owner's own only (AccessDenied otherwise)."""
        decision = await require(
            self.uow,
            self.ctx,
            user,
            user.subject_account_id,
            Permission.READ_ACCOUNT_HISTORY,
            action="login_history.view",
        )
        events: Sequence[LoginEvent] = await self.uow.identity.login_events.recent(
            decision.subject_account_id, limit
        )
        await self._audit(
            actor=f"account:{user.account_id}",
            action="login_history.view",
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            **decision.audit_fields(),
        )
        return [
            LoginHistoryEntry(e.at, e.outcome, OUTCOME_TEXT.get(e.outcome, e.outcome))
            for e in events
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

    # -- recovery -------------------------------------------------------

    async def start_recovery(self, account_id: int, tg_user: int) -> str:
        """Check that recovery by e-mail is possible; returns the masked address."""
        account = await self._account(account_id)
        if not account.email:
            raise DomainError(
                "К учётной записи не привязана электронная почта, поэтому восстановить доступ "
                "в боте нельзя. Обратитесь в службу поддержки Госуслуг."
            )
        await self._audit(
            actor=audit.telegram_actor(tg_user),
            action="recovery.start",
            subject_account_id=account.id,
        )
        return mask_email(account.email)

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

    async def check_password(self, account_id: int, password: str, tg_user: int) -> AccountRef:
        """Raise AccountLocked or WrongPassword (after recording the failure), else go on."""
        for _ in range(3):
            stored = await in_unit(
                self.work, lambda uow: self._auth(uow).stored_password(account_id, tg_user)
            )
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
        await self.check_password(user.account_id, password, tg_user)

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

    async def finish_recovery(self, account_id: int, new_password: str, tg_user: int) -> None:
        """Set a new password, unlock the account and end all its sessions."""
        check_password_policy(new_password)
        new_hash = await self.ctx.cpu.run(self.ctx.hasher.hash, new_password)
        await in_unit(
            self.work, lambda uow: self._auth(uow).apply_recovery(account_id, new_hash, tg_user)
        )
