"""Repositories: Applications, their documents and the registry stand-in.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, or_, select, tuple_, update

from storage.models import (
    APPLICATION_ACTIVE_STATUSES,
    Application,
    ApplicationDocument,
    ApplicationStatusEvent,
    RegistryPerson,
)
from storage.repositories.base import Repo

# The condition of the partial index ix_applications_waiting (storage.models.enrolment).
WAITING_INDEX_STATUSES = ("accepted", "in_work")


def _waiting(statuses: Sequence[str]) -> ColumnElement[bool]:
    """``status IN (…)`` with the statuses written into the SQL as literals.

    A partial index is used only when the query names its very condition:
    SQLite compares the terms (literal values, in the same order), and a
    PostgreSQL plan cached for bound parameters cannot prove it implied.
    """
    wanted = list(statuses)
    if set(wanted) == set(WAITING_INDEX_STATUSES):
        wanted = list(WAITING_INDEX_STATUSES)
    listed: BindParameter[list[str]] = bindparam(
        "waiting_statuses", wanted, expanding=True, literal_execute=True
    )
    return Application.status.in_(listed)


class ApplicationRepo(Repo):
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
        """Applications in `status` submitted before this one (ties broken by id).

        For a waiting status, one range of ``ix_applications_waiting``
        (submitted_at, id, status): the query names the index's condition (see
        `_waiting`), and the row-value comparison is a single index range on
        both backends (an OR of two conditions is planned as two scans or a filter).
        """
        stmt = (
            select(func.count())
            .select_from(Application)
            .where(
                Application.status == status,
                tuple_(Application.submitted_at, Application.id) < (submitted_at, application_id),
            )
        )
        if status in WAITING_INDEX_STATUSES:
            stmt = stmt.where(_waiting(WAITING_INDEX_STATUSES))
        return int(await self.session.scalar(stmt) or 0)

    async def recent_durations(self, limit: int) -> list[float]:
        """Seconds from start to decision of the last `limit` decided applications.

        Reads at most `limit` rows, newest first, from the partial index
        ``ix_applications_decided``: the WHERE terms below are exactly the
        index's (SQLite uses a partial index only for the very same terms).
        """
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

        For the waiting statuses the candidate is the first free entry of
        ``ix_applications_waiting`` (see `_waiting`).
        """
        free = or_(Application.lease_until.is_(None), Application.lease_until < now)
        stmt = (
            select(Application.id)
            .where(_waiting(statuses), free)
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


class DocumentRepo(Repo):
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


class RegistryRepo(Repo):
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
