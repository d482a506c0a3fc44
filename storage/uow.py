"""Unit of work: one database transaction, with the repositories that write into it.

Repositories never commit. The owner of the unit of work (the per-update
middleware, or a worker job) commits once when the work is done, so a change,
its audit row and its notification land together or not at all.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    AccountRepo,
    AuditRepo,
    BindingRepo,
    LoginEventRepo,
    OtpRepo,
    OutboxRepo,
    SessionRepo,
)


class UnitOfWork:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._factory()
        session = self._session
        self.accounts = AccountRepo(session)
        self.bindings = BindingRepo(session)
        self.sessions = SessionRepo(session)
        self.otp = OtpRepo(session)
        self.login_events = LoginEventRepo(session)
        self.audit = AuditRepo(session)
        self.outbox = OutboxRepo(session)
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

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


class UnitOfWorkFactory:
    """Makes a fresh unit of work per update or per worker job."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)
