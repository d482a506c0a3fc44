"""Repositories: Accounts, Telegram bindings, sessions, one-time codes and sign-in events.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update

from storage.models import (
    Account,
    AuthSession,
    LoginEvent,
    OtpChallenge,
    TelegramBinding,
)
from storage.models.identity import SignInAttempt
from storage.repositories.base import Repo


class AccountRepo(Repo):
    async def get(self, account_id: int) -> Account | None:
        return await self.session.get(Account, account_id)

    async def get_for_update(self, account_id: int) -> Account | None:
        stmt = select(Account).where(Account.id == account_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def find_by_login(self, kind: str, value: str) -> Account | None:
        column = {"phone": Account.phone, "email": Account.email, "snils": Account.snils}[kind]
        return (await self.session.execute(select(Account).where(column == value))).scalar()

    async def find_by_any(self, phone: str | None, email: str | None) -> Account | None:
        conditions = []
        if phone:
            conditions.append(Account.phone == phone)
        if email:
            conditions.append(Account.email == email)
        if not conditions:
            return None
        return (await self.session.execute(select(Account).where(or_(*conditions)))).scalar()

    async def add(self, account: Account) -> Account:
        self.session.add(account)
        await self.session.flush()
        return account

    # -- sign-in attempts (storage.models.identity.SignInAttempt) ------------

    async def add_attempt(self, attempt: SignInAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

    async def count_attempts(
        self,
        kind: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        account_id: int | None = None,
        login_digest: str | None = None,
        telegram_user_id: int | None = None,
    ) -> int:
        """How many `kind` attempts of one account, login or Telegram account in [since, until]."""
        stmt = select(func.count(SignInAttempt.id)).where(
            AttemptQueries.of(
                account_id=account_id,
                login_digest=login_digest,
                telegram_user_id=telegram_user_id,
            ),
            SignInAttempt.kind == kind,
        )
        if since is not None:
            stmt = stmt.where(SignInAttempt.at >= since)
        if until is not None:
            stmt = stmt.where(SignInAttempt.at <= until)
        if after_id is not None:
            stmt = stmt.where(SignInAttempt.id > after_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def latest_attempt(
        self,
        kind: str,
        *,
        account_id: int | None = None,
        login_digest: str | None = None,
        telegram_user_id: int | None = None,
    ) -> SignInAttempt | None:
        stmt = (
            select(SignInAttempt)
            .where(
                AttemptQueries.of(
                    account_id=account_id,
                    login_digest=login_digest,
                    telegram_user_id=telegram_user_id,
                ),
                SignInAttempt.kind == kind,
            )
            .order_by(SignInAttempt.at.desc(), SignInAttempt.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def oldest_attempt_since(
        self,
        kind: str,
        since: datetime,
        *,
        account_id: int | None = None,
        login_digest: str | None = None,
        telegram_user_id: int | None = None,
    ) -> datetime | None:
        stmt = select(func.min(SignInAttempt.at)).where(
            AttemptQueries.of(
                account_id=account_id,
                login_digest=login_digest,
                telegram_user_id=telegram_user_id,
            ),
            SignInAttempt.kind == kind,
            SignInAttempt.at >= since,
        )
        value: datetime | None = (await self.session.execute(stmt)).scalar_one()
        return value


class AttemptQueries:
    """Counting `SignInAttempt` rows: each query is one range of an index (account,
    login digest or Telegram account; then the kind; then the time)."""

    @staticmethod
    def of(
        *,
        account_id: int | None = None,
        login_digest: str | None = None,
        telegram_user_id: int | None = None,
    ) -> ColumnElement[bool]:
        if account_id is not None:
            return SignInAttempt.account_id == account_id
        if login_digest is not None:
            return SignInAttempt.login_digest == login_digest
        if telegram_user_id is not None:
            return SignInAttempt.telegram_user_id == telegram_user_id
        raise ValueError("an attempt is counted by an account, a login or a Telegram account")


class BindingRepo(Repo):
    async def by_telegram_user(self, telegram_user_id: int) -> TelegramBinding | None:
        stmt = select(TelegramBinding).where(TelegramBinding.telegram_user_id == telegram_user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_account(self, account_id: int) -> Sequence[TelegramBinding]:
        stmt = select(TelegramBinding).where(TelegramBinding.account_id == account_id)
        return (await self.session.execute(stmt)).scalars().all()

    async def by_chat(self, chat_id: int) -> Sequence[TelegramBinding]:
        stmt = select(TelegramBinding).where(TelegramBinding.chat_id == chat_id)
        return (await self.session.execute(stmt)).scalars().all()

    async def add(self, binding: TelegramBinding) -> TelegramBinding:
        self.session.add(binding)
        await self.session.flush()
        return binding

    async def mark_blocked_by_chat(self, chat_id: int, now: datetime) -> int:
        """Note that the bot is blocked in this chat (on bindings not already marked)."""
        result = await self.session.execute(
            update(TelegramBinding)
            .where(TelegramBinding.chat_id == chat_id, TelegramBinding.bot_blocked_at.is_(None))
            .values(bot_blocked_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)


class SessionRepo(Repo):
    async def open_for_telegram_user(self, telegram_user_id: int) -> AuthSession | None:
        stmt = (
            select(AuthSession)
            .where(AuthSession.telegram_user_id == telegram_user_id)
            .where(AuthSession.ended_at.is_(None))
            .order_by(AuthSession.id.desc())
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def open_with_account(self, telegram_user_id: int) -> tuple[AuthSession, Account] | None:
        """The open session of a Telegram user and its account, in one query."""
        stmt = (
            select(AuthSession, Account)
            .join(Account, Account.id == AuthSession.account_id)
            .where(AuthSession.telegram_user_id == telegram_user_id)
            .where(AuthSession.ended_at.is_(None))
            .order_by(AuthSession.id.desc())
            .limit(1)
        )
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def open_for_account(self, account_id: int) -> Sequence[AuthSession]:
        stmt = (
            select(AuthSession)
            .where(AuthSession.account_id == account_id)
            .where(AuthSession.ended_at.is_(None))
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def add(self, auth_session: AuthSession) -> AuthSession:
        self.session.add(auth_session)
        await self.session.flush()
        return auth_session

    async def end_all(
        self,
        *,
        account_id: int | None = None,
        telegram_user_id: int | None = None,
        now: datetime,
        reason: str,
        except_id: int | None = None,
    ) -> int:
        if account_id is None and telegram_user_id is None:
            raise ValueError("end_all needs an account or a Telegram user")
        stmt = update(AuthSession).where(AuthSession.ended_at.is_(None))
        if account_id is not None:
            stmt = stmt.where(AuthSession.account_id == account_id)
        if telegram_user_id is not None:
            stmt = stmt.where(AuthSession.telegram_user_id == telegram_user_id)
        if except_id is not None:
            stmt = stmt.where(AuthSession.id != except_id)
        result = await self.session.execute(
            stmt.values(ended_at=now, end_reason=reason).execution_options(
                synchronize_session="fetch"
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class OtpRepo(Repo):
    async def get(self, challenge_id: int) -> OtpChallenge | None:
        return await self.session.get(OtpChallenge, challenge_id)

    async def latest(self, account_id: int, purpose: str) -> OtpChallenge | None:
        stmt = (
            select(OtpChallenge)
            .where(OtpChallenge.account_id == account_id, OtpChallenge.purpose == purpose)
            .order_by(OtpChallenge.id.desc())
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def previous(self, challenge: OtpChallenge) -> OtpChallenge | None:
        """The challenge issued just before this one for the same account and purpose."""
        stmt = (
            select(OtpChallenge)
            .where(
                OtpChallenge.account_id == challenge.account_id,
                OtpChallenge.purpose == challenge.purpose,
                OtpChallenge.id < challenge.id,
            )
            .order_by(OtpChallenge.id.desc())
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def void_open(self, account_id: int, purpose: str, now: datetime) -> None:
        await self.session.execute(
            update(OtpChallenge)
            .where(
                OtpChallenge.account_id == account_id,
                OtpChallenge.purpose == purpose,
                OtpChallenge.consumed_at.is_(None),
                OtpChallenge.voided_at.is_(None),
            )
            .values(voided_at=now)
            .execution_options(synchronize_session="fetch")
        )

    async def add(self, challenge: OtpChallenge) -> OtpChallenge:
        self.session.add(challenge)
        await self.session.flush()
        return challenge


class LoginEventRepo(Repo):
    async def add(self, event: LoginEvent) -> None:
        self.session.add(event)

    async def recent(self, account_id: int, limit: int = 10) -> Sequence[LoginEvent]:
        stmt = (
            select(LoginEvent)
            .where(LoginEvent.account_id == account_id)
            .order_by(LoginEvent.at.desc(), LoginEvent.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()
