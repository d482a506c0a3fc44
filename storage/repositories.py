"""Repositories: queries and writes. They flush when they need ids and never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    APPLICATION_ACTIVE_STATUSES,
    Account,
    Application,
    ApplicationDocument,
    ApplicationStatusEvent,
    AuditEntry,
    AuthSession,
    LoginEvent,
    MedicalRecord,
    OtpChallenge,
    OutboxMessage,
    RegistryPerson,
    TelegramBinding,
)


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class AccountRepo(_Repo):
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


class BindingRepo(_Repo):
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


class SessionRepo(_Repo):
    async def open_for_telegram_user(self, telegram_user_id: int) -> AuthSession | None:
        stmt = (
            select(AuthSession)
            .where(AuthSession.telegram_user_id == telegram_user_id)
            .where(AuthSession.ended_at.is_(None))
            .order_by(AuthSession.id.desc())
        )
        return (await self.session.execute(stmt)).scalars().first()

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


class OtpRepo(_Repo):
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


class LoginEventRepo(_Repo):
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


class AuditRepo(_Repo):
    """Append-only: there is deliberately no update or delete here."""

    async def append(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    async def for_subject(self, account_id: int, limit: int = 100) -> Sequence[AuditEntry]:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.subject_account_id == account_id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def all(self, action: str | None = None) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return (await self.session.execute(stmt)).scalars().all()


class OutboxRepo(_Repo):
    async def add(self, message: OutboxMessage) -> None:
        self.session.add(message)

    async def claim_due(self, now: datetime, until: datetime, limit: int) -> list[OutboxMessage]:
        """Take up to `limit` due rows for this worker until `until` (skip rows others hold)."""
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
            .where(or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list((await self.session.execute(stmt)).scalars().all())
        for row in rows:
            row.claimed_until = until
        await self.session.flush()
        return rows

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, message_id)

    async def by_status(self, status: str) -> Sequence[OutboxMessage]:
        stmt = select(OutboxMessage).where(OutboxMessage.status == status)
        return (await self.session.execute(stmt.order_by(OutboxMessage.id))).scalars().all()

    async def for_chat(self, chat_id: int) -> Sequence[OutboxMessage]:
        stmt = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
        return (await self.session.execute(stmt.order_by(OutboxMessage.id))).scalars().all()

    async def stats(self) -> dict[str, int]:
        stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return {status: int(count) for status, count in (await self.session.execute(stmt)).all()}

    async def start_sending(
        self, message_id: int, *, claimed_until: datetime, lease_until: datetime
    ) -> bool:
        """Move a row this worker claimed (`claimed_until` is its claim) to `sending`.

        A compare-and-set: False if the row is no longer pending or another
        worker has claimed it since (its claim expired), so it is not sent.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.claimed_until == claimed_until,
            )
            .values(status="sending", claimed_until=lease_until)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def release(
        self, message_ids: Sequence[int], *, claimed_until: datetime, due_at: datetime
    ) -> int:
        """Give back pending rows of this claim unsent, due again at `due_at`."""
        if not message_ids:
            return 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(message_ids)),
                OutboxMessage.status == "pending",
                OutboxMessage.claimed_until == claimed_until,
            )
            .values(claimed_until=None, due_at=due_at)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def expire_sending(self, now: datetime, error: str) -> list[int]:
        """Rows left in `sending` past their lease (the sender died) become `unknown`."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)
            .values(status="unknown", claimed_until=None, last_error=error)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session="fetch")
        )
        return sorted(result.scalars().all())

    async def set_state(self, message_id: int, values: Mapping[str, Any]) -> bool:
        """Write a delivery result (status and the columns that go with it) onto one row.

        A single UPDATE, so on SQLite the transaction starts as a writer and waits
        for the lock instead of failing as a reader turned writer.
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def block_pending_for_chat(self, chat_id: int, error: str) -> int:
        """Every pending row for the chat becomes `blocked` (the bot is blocked there)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == "pending")
            .values(status="blocked", claimed_until=None, last_error=error)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)


class ApplicationRepo(_Repo):
    """Applications and their status history.

    Status changes are compare-and-set updates guarded by the expected current
    status, so two workers (or a worker and a person) never both move the same
    application out of the same status; the loser's update matches no row.
    """

    async def get(self, application_id: int) -> Application | None:
        return await self.session.get(Application, application_id)

    async def get_for_update(self, application_id: int) -> Application | None:
        """The row, locked until the end of the transaction (PostgreSQL; SQLite has one writer)."""
        stmt = (
            select(Application)
            .where(Application.id == application_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def in_progress_for(
        self, account_id: int, *, for_update: bool = False
    ) -> Application | None:
        stmt = select(Application).where(
            Application.account_id == account_id,
            Application.status.in_(APPLICATION_ACTIVE_STATUSES),
        )
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalars().first()

    async def latest_for(
        self, account_id: int, *, except_statuses: Sequence[str] = ()
    ) -> Application | None:
        """The account's newest application (leaving out those in `except_statuses`)."""
        stmt = select(Application).where(Application.account_id == account_id)
        if except_statuses:
            stmt = stmt.where(Application.status.not_in(list(except_statuses)))
        stmt = stmt.order_by(Application.id.desc()).limit(1)
        return (await self.session.execute(stmt)).scalars().first()

    async def add(self, application: Application) -> Application:
        """Insert; the partial unique index refuses a second application in progress."""
        self.session.add(application)
        await self.session.flush()
        return application

    async def add_event(self, event: ApplicationStatusEvent) -> None:
        self.session.add(event)

    async def events(self, application_id: int) -> Sequence[ApplicationStatusEvent]:
        stmt = (
            select(ApplicationStatusEvent)
            .where(ApplicationStatusEvent.application_id == application_id)
            .order_by(ApplicationStatusEvent.at, ApplicationStatusEvent.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def count_ahead(self, status: str, submitted_at: datetime, application_id: int) -> int:
        """Applications in `status` submitted before this one (ties broken by id)."""
        stmt = (
            select(func.count())
            .select_from(Application)
            .where(Application.status == status)
            .where(
                or_(
                    Application.submitted_at < submitted_at,
                    and_(Application.submitted_at == submitted_at, Application.id < application_id),
                )
            )
        )
        return int(await self.session.scalar(stmt) or 0)

    async def recent_durations(self, limit: int) -> list[float]:
        """Seconds from start to decision of the last `limit` decided applications."""
        stmt = (
            select(Application.processing_started_at, Application.processed_at)
            .where(
                Application.processed_at.is_not(None),
                Application.processing_started_at.is_not(None),
            )
            .order_by(Application.processed_at.desc(), Application.id.desc())
            .limit(limit)
        )
        durations = []
        for started, finished in (await self.session.execute(stmt)).all():
            if started is not None and finished is not None and finished >= started:
                durations.append((finished - started).total_seconds())
        return durations

    async def claim_next(
        self, statuses: Sequence[str], now: datetime, until: datetime
    ) -> int | None:
        """Lease the oldest unleased application in `statuses` until `until`; its id or None.

        PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent workers pass each
        other's candidates. Either backend: the lease is set by a
        compare-and-set, so of two workers racing for one row only one wins.
        """
        free = or_(Application.lease_until.is_(None), Application.lease_until < now)
        stmt = (
            select(Application.id)
            .where(Application.status.in_(list(statuses)), free)
            .order_by(Application.submitted_at, Application.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        application_id = (await self.session.execute(stmt)).scalar_one_or_none()
        if application_id is None:
            return None
        result = await self.session.execute(
            update(Application)
            .where(
                Application.id == application_id,
                Application.status.in_(list(statuses)),
                free,
            )
            .values(lease_until=until, attempt=Application.attempt + 1)
            .execution_options(synchronize_session="fetch")
        )
        return application_id if int(getattr(result, "rowcount", 0) or 0) == 1 else None

    async def move(
        self, application_id: int, from_statuses: Sequence[str], values: dict[str, Any]
    ) -> bool:
        """Compare-and-set: apply `values` only if the status is still one of `from_statuses`."""
        result = await self.session.execute(
            update(Application)
            .where(
                Application.id == application_id,
                Application.status.in_(list(from_statuses)),
            )
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1


class DocumentRepo(_Repo):
    async def for_application(self, application_id: int) -> Sequence[ApplicationDocument]:
        stmt = (
            select(ApplicationDocument)
            .where(ApplicationDocument.application_id == application_id)
            .order_by(ApplicationDocument.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def in_slot(self, application_id: int, slot: str) -> ApplicationDocument | None:
        stmt = select(ApplicationDocument).where(
            ApplicationDocument.application_id == application_id,
            ApplicationDocument.slot == slot,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, document: ApplicationDocument) -> ApplicationDocument:
        self.session.add(document)
        await self.session.flush()
        return document

    async def delete(self, document: ApplicationDocument) -> None:
        await self.session.delete(document)
        await self.session.flush()

    async def storage_keys(self) -> set[str]:
        """Every file key that a document row points to (for the orphan sweep)."""
        rows = await self.session.execute(select(ApplicationDocument.storage_key))
        return set(rows.scalars().all())


class RegistryRepo(_Repo):
    """The local state registry table."""

    async def by_snils(self, snils: str) -> RegistryPerson | None:
        stmt = select(RegistryPerson).where(RegistryPerson.snils == snils)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def born_on(self, birth_date: date) -> Sequence[RegistryPerson]:
        stmt = (
            select(RegistryPerson)
            .where(RegistryPerson.birth_date == birth_date)
            .order_by(RegistryPerson.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def add(self, person: RegistryPerson) -> RegistryPerson:
        self.session.add(person)
        await self.session.flush()
        return person


class MedicalRecordRepo(_Repo):
    async def for_account(self, account_id: int) -> MedicalRecord | None:
        stmt = select(MedicalRecord).where(MedicalRecord.account_id == account_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, record: MedicalRecord) -> MedicalRecord:
        self.session.add(record)
        await self.session.flush()
        return record
