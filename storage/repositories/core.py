"""Repositories: The audit journal and the push outbox.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from storage.models import (
    AuditEntry,
    OutboxMessage,
)
from storage.repositories.base import Repo


class AuditRepo(Repo):
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


class OutboxRepo(Repo):
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
