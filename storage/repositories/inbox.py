"""Repository: the inbox of Telegram updates (storage.models.inbox).

It flushes when it needs ids and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from storage.models.inbox import InboxUpdate
from storage.repositories.base import Repo


@dataclass(frozen=True)
class PendingUpdate:
    """An update not yet done, as the claimer sees it (no payload)."""

    id: int
    update_id: int
    chat_id: int | None
    lease_until: datetime | None


@dataclass(frozen=True)
class NewUpdate:
    update_id: int
    chat_id: int | None
    payload: str


class InboxRepo(Repo):
    def _insert(self) -> Any:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert
        if dialect == "sqlite":
            return sqlite.insert
        raise NotImplementedError(f"the inbox does not support the {dialect} dialect")

    async def add_new(self, bot_id: int, updates: Iterable[NewUpdate], now: datetime) -> int:
        """Store the updates not stored before (by bot_id, update_id); how many were new."""
        rows = [
            {
                "bot_id": bot_id,
                "update_id": item.update_id,
                "chat_id": item.chat_id,
                "payload": item.payload,
                "received_at": now,
                "attempts": 0,
            }
            for item in updates
        ]
        if not rows:
            return 0
        stmt = (
            self._insert()(InboxUpdate)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[InboxUpdate.bot_id, InboxUpdate.update_id])
        )
        result: CursorResult[Any] = await self.session.execute(stmt)  # type: ignore[assignment]
        return max(result.rowcount or 0, 0)

    async def pending(self, bot_id: int, limit: int) -> Sequence[PendingUpdate]:
        """The oldest updates not yet done, in update_id order (leased ones included)."""
        stmt = (
            select(
                InboxUpdate.id, InboxUpdate.update_id, InboxUpdate.chat_id, InboxUpdate.lease_until
            )
            .where(InboxUpdate.bot_id == bot_id, InboxUpdate.done_at.is_(None))
            .order_by(InboxUpdate.update_id)
            .limit(limit)
        )
        return [PendingUpdate(*row) for row in (await self.session.execute(stmt)).all()]

    async def claim(self, row_id: int, owner: str, now: datetime, until: datetime) -> int | None:
        """Take the row for `owner` until `until` unless another holds a live lease.

        A compare-and-set; returns the row's attempts counted with this one, or None.
        """
        stmt = (
            update(InboxUpdate)
            .where(InboxUpdate.id == row_id, InboxUpdate.done_at.is_(None))
            .where((InboxUpdate.lease_until.is_(None)) | (InboxUpdate.lease_until < now))
            .values(lease_owner=owner, lease_until=until, attempts=InboxUpdate.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        result: CursorResult[Any] = await self.session.execute(stmt)  # type: ignore[assignment]
        if result.rowcount != 1:
            return None
        attempts = await self.session.scalar(
            select(InboxUpdate.attempts).where(InboxUpdate.id == row_id)
        )
        return int(attempts or 0)

    async def payload(self, row_id: int) -> str | None:
        return await self.session.scalar(
            select(InboxUpdate.payload).where(InboxUpdate.id == row_id)
        )

    async def renew(self, row_ids: Sequence[int], owner: str, until: datetime) -> None:
        if not row_ids:
            return
        await self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.id.in_(row_ids), InboxUpdate.lease_owner == owner)
            .where(InboxUpdate.done_at.is_(None))
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )

    async def release(self, row_ids: Sequence[int], owner: str) -> None:
        """Give the rows up unhandled (a shutdown ran out of time): free to take at once."""
        if not row_ids:
            return
        await self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.id.in_(row_ids), InboxUpdate.lease_owner == owner)
            .where(InboxUpdate.done_at.is_(None))
            .values(lease_until=None, lease_owner=None)
            .execution_options(synchronize_session=False)
        )

    async def mark_done(self, row_id: int, now: datetime) -> None:
        """Handled (or given up): the payload goes, the id stays to refuse a second delivery."""
        await self.session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.id == row_id)
            .values(done_at=now, payload=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def delete_done_before(self, bot_id: int, before: datetime) -> int:
        result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
            delete(InboxUpdate)
            .where(InboxUpdate.bot_id == bot_id, InboxUpdate.done_at < before)
            .execution_options(synchronize_session=False)
        )
        return max(result.rowcount or 0, 0)

    async def count_pending(self, bot_id: int) -> int:
        stmt = select(func.count()).where(
            InboxUpdate.bot_id == bot_id, InboxUpdate.done_at.is_(None)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def all(self, bot_id: int) -> Sequence[InboxUpdate]:
        stmt = select(InboxUpdate).where(InboxUpdate.bot_id == bot_id)
        return (await self.session.execute(stmt.order_by(InboxUpdate.update_id))).scalars().all()
