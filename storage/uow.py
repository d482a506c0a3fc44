"""Unit of work: one database transaction, with the repositories that write into it.

Repositories never commit. The owner of the unit of work (the per-update
middleware, or a worker job) commits once when the work is done, so a change,
its audit row and its notification land together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import get_type_hints

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories.base import Repo
from storage.repositories.booking import (
    CatalogRepo,
    ReferralRepo,
    ScheduleRepo,
    VisitRepo,
    WaitlistRepo,
)
from storage.repositories.chat import ChatRepo
from storage.repositories.clinic import (
    AttachmentRepo,
    OrganisationRepo,
    PatientRepo,
    StaffRepo,
    StepUpRepo,
)
from storage.repositories.core import AuditRepo, OutboxRepo
from storage.repositories.enrolment import ApplicationRepo, DocumentRepo, RegistryRepo
from storage.repositories.extracts import ExtractRequestRepo
from storage.repositories.files import FileKeyRepo
from storage.repositories.identity import (
    AccountRepo,
    BindingRepo,
    LoginEventRepo,
    OtpRepo,
    SessionRepo,
)
from storage.repositories.inbox import InboxRepo
from storage.repositories.integration import ApiClientRepo, LabReportRepo, TokenUseRepo
from storage.repositories.lab import LabResultRepo
from storage.repositories.record import ColleagueExtractRepo, MedicalRecordRepo, SectionRepo
from storage.repositories.sharing import RelativeGrantRepo

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


class RepoGroup:
    """An area's repositories, made on first use from the annotations of a subclass.

    A new repository is one annotated line in its area's group; nothing else
    has to know about it.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Repo:
        hints = get_type_hints(type(self))
        repo_type = hints.get(name)
        if not (isinstance(repo_type, type) and issubclass(repo_type, Repo)):
            raise AttributeError(name)
        repo = repo_type(self._session)
        setattr(self, name, repo)
        return repo


class CoreRepos(RepoGroup):
    audit: AuditRepo
    outbox: OutboxRepo
    files: FileKeyRepo


class IdentityRepos(RepoGroup):
    accounts: AccountRepo
    bindings: BindingRepo
    sessions: SessionRepo
    otp: OtpRepo
    login_events: LoginEventRepo


class EnrolmentRepos(RepoGroup):
    applications: ApplicationRepo
    documents: DocumentRepo
    registry: RegistryRepo


class RecordRepos(RepoGroup):
    records: MedicalRecordRepo
    sections: SectionRepo
    labs: LabResultRepo
    extracts: ExtractRequestRepo
    colleagues: ColleagueExtractRepo


class BookingRepos(RepoGroup):
    catalog: CatalogRepo
    schedule: ScheduleRepo
    visits: VisitRepo
    referrals: ReferralRepo
    waitlist: WaitlistRepo


class SharingRepos(RepoGroup):
    grants: RelativeGrantRepo


class ClinicRepos(RepoGroup):
    organisations: OrganisationRepo
    staff: StaffRepo
    attachments: AttachmentRepo
    step_ups: StepUpRepo
    patients: PatientRepo


class ChatRepos(RepoGroup):
    threads: ChatRepo


class IntegrationRepos(RepoGroup):
    clients: ApiClientRepo
    reports: LabReportRepo
    token_uses: TokenUseRepo


class InboxRepos(RepoGroup):
    updates: InboxRepo


class UnitOfWork:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        self._session: AsyncSession | None = None
        self._after_commit: list[Callback] = []
        self._after_rollback: list[Callback] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._factory()
        session = self._session
        self.core = CoreRepos(session)
        self.identity = IdentityRepos(session)
        self.enrolment = EnrolmentRepos(session)
        self.record = RecordRepos(session)
        self.booking = BookingRepos(session)
        self.sharing = SharingRepos(session)
        self.clinic = ClinicRepos(session)
        self.chat = ChatRepos(session)
        self.integration = IntegrationRepos(session)
        self.inbox = InboxRepos(session)
        self._after_commit, self._after_rollback = [], []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc_type is not None:
                await session.rollback()
        finally:
            await session.close()
            self._session = None
            # Work never committed is gone: undo what it did outside the database.
            self._after_commit = []
            await self._run(self._take_rollback_callbacks())

    def after_commit(self, callback: Callback) -> None:
        """Run `callback` once the current transaction commits (dropped if it does not).

        For side effects outside the database that must follow the commit, such
        as deleting a file a committed change no longer points to. A failing
        callback is logged and ignored: the database is already right.
        """
        self._after_commit.append(callback)

    def after_rollback(self, callback: Callback) -> None:
        """Run `callback` if the current transaction is rolled back or never committed."""
        self._after_rollback.append(callback)

    def _take_rollback_callbacks(self) -> list[Callback]:
        callbacks, self._after_rollback = self._after_rollback, []
        return callbacks

    @staticmethod
    async def _run(callbacks: list[Callback]) -> None:
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception("unit of work callback failed")

    async def commit(self) -> None:
        await self.session.commit()
        callbacks, self._after_commit, self._after_rollback = self._after_commit, [], []
        await self._run(callbacks)

    async def rollback(self) -> None:
        await self.session.rollback()
        self._after_commit = []
        await self._run(self._take_rollback_callbacks())

    async def flush(self) -> None:
        await self.session.flush()


class UnitOfWorkFactory:
    """Makes a fresh unit of work per update or per worker job."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)
