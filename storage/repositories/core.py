"""Repositories: The audit journal and the push outbox.

They flush when they need ids and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    AuditEntry,
    OutboxMessage,
)
from storage.models.core import AuditHead
from storage.repositories.base import Repo

# `prev_hash` of the first row of the journal.
GENESIS = "0" * 64
HEAD_ID = 1
_PENDING = "audit_pending"
_KEY = "audit_key"


def _canonical(value: Any) -> Any:
    """`value` as it reads back from a JSON column (tuples are lists, keys are strings)."""
    return json.loads(json.dumps(value, default=str))


def chain_digest(key: bytes, entry: AuditEntry, prev_hash: str) -> str:
    """The HMAC-SHA256 (hex) of a row's content and the hash of the row before it.

    Never change this: every stored chain was sealed with it. `seq` is not in it:
    the link to the previous row fixes the order, so a moved row shows as out of
    order and an edited one as changed.
    """
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = {
        "v": 1,
        "prev": prev_hash,
        "at": at,
        "actor": entry.actor,
        "actor_account_id": entry.actor_account_id,
        "subject_account_id": entry.subject_account_id,
        "action": entry.action,
        "outcome": entry.outcome,
        "permission": entry.permission,
        "basis": entry.basis,
        "details": _canonical(entry.details or {}),
    }
    message = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _chain_pending(session: Session) -> None:
    """Before the commit: lock the head, number and seal the unit's rows, move the head.

    Everything else the unit wrote is flushed first, so the head is the last lock
    the transaction takes and it is held only for the commit itself: appends are
    serialized (a linear chain on PostgreSQL) and nobody holding the head waits
    for another lock.
    """
    pending: list[AuditEntry] = session.info.pop(_PENDING, [])
    if not pending:
        return
    key: bytes = session.info[_KEY]
    session.flush()
    head = session.execute(
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    for entry in pending:
        entry.seq = head.seq + 1
        entry.prev_hash = head.hash
        entry.hash = chain_digest(key, entry, head.hash)
        session.add(entry)
        head.seq, head.hash = entry.seq, entry.hash
    session.flush()


def _drop_pending(session: Session, _previous_transaction: Any = None) -> None:
    session.info.pop(_PENDING, None)


def _sign_in_rows() -> ColumnElement[bool]:
    """The rows «История входов» shows: completed sign-ins, refused steps, locks."""
    return or_(
        AuditEntry.action == "sign_in",
        AuditEntry.action == "account.lock",
        and_(
            AuditEntry.action.startswith("sign_in.", autoescape=True),
            AuditEntry.outcome != "ok",
        ),
    )


class AuditRepo(Repo):
    """Append-only: there is deliberately no update or delete here.

    `append` keeps the row until the unit of work commits; then it is numbered,
    chained and inserted (`_chain_pending`). A unit rolled back appends nothing.
    """

    async def append(self, entry: AuditEntry, key: bytes) -> None:
        """Append `entry` when the unit commits, sealed with `key` (the AUDIT_KEY)."""
        # Begin the transaction now, so that a rollback before the commit drops the row.
        await self.session.connection()
        sync = self.session.sync_session
        info = sync.info
        if _PENDING not in info:
            info[_PENDING] = []
            if not info.get("audit_hooks"):
                event.listen(sync, "before_commit", _chain_pending)
                event.listen(sync, "after_soft_rollback", _drop_pending)
                info["audit_hooks"] = True
        info[_KEY] = key
        info[_PENDING].append(entry)

    async def for_subject(self, account_id: int, limit: int = 100) -> Sequence[AuditEntry]:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.subject_account_id == account_id)
            .order_by(AuditEntry.seq.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def all(self, action: str | None = None) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return (await self.session.execute(stmt)).scalars().all()

    async def head(self) -> AuditHead | None:
        """Where the journal ends (read, not locked)."""
        stmt = select(AuditHead).where(AuditHead.id == HEAD_ID)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def chain(self, after_seq: int, upto_seq: int, limit: int) -> Sequence[AuditEntry]:
        """Up to `limit` rows with `after_seq < seq <= upto_seq`, in chain order."""
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.seq > after_seq, AuditEntry.seq <= upto_seq)
            .order_by(AuditEntry.seq)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def seq_of_hash(self, digest: str) -> int | None:
        """The `seq` of the row whose hash is `digest` (to tell a moved row from a lost one)."""
        stmt = select(AuditEntry.seq).where(AuditEntry.hash == digest).limit(1)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def max_seq(self) -> int:
        return int(await self.session.scalar(select(func.max(AuditEntry.seq))) or 0)

    async def last_seq_for_subject(self, account_id: int) -> int:
        stmt = select(func.max(AuditEntry.seq)).where(AuditEntry.subject_account_id == account_id)
        return int(await self.session.scalar(stmt) or 0)

    async def count_for_subject(self, account_id: int, *, upto_seq: int) -> int:
        stmt = (
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.subject_account_id == account_id, AuditEntry.seq <= upto_seq)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def subject_page(
        self, account_id: int, *, upto_seq: int, offset: int, limit: int
    ) -> Sequence[AuditEntry]:
        """One page of the account's rows with `seq <= upto_seq`, newest first."""
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.subject_account_id == account_id, AuditEntry.seq <= upto_seq)
            .order_by(AuditEntry.seq.desc())
            .offset(offset)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def sign_ins(self, account_id: int, limit: int = 10) -> Sequence[AuditEntry]:
        """The account's sign-in rows (see `_sign_in_rows`), newest first."""
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.subject_account_id == account_id, _sign_in_rows())
            .order_by(AuditEntry.seq.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()


class OutboxRepo(Repo):
    async def add(self, message: OutboxMessage) -> None:
        self.session.add(message)

    async def claim_due(
        self,
        now: datetime,
        until: datetime,
        limit: int,
        chats: Collection[int] | None = None,
    ) -> list[OutboxMessage]:
        """Take up to `limit` due rows for this worker until `until` (skip rows others hold);
        with `chats`, only rows to those chats."""
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
            .where(or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if chats is not None:
            stmt = stmt.where(OutboxMessage.chat_id.in_(list(chats)))
        rows = list((await self.session.execute(stmt)).scalars().all())
        for row in rows:
            row.claimed_until = until
        await self.session.flush()
        return rows

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, message_id)

    async def withdraw(self, topic: str, error: str = "withdrawn") -> int:
        """Messages about `topic` not sent yet will not be: they become `withdrawn`.

        A row a notifier has claimed but not started is withdrawn too: its
        compare-and-set to `sending` then fails.
        """
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.topic == topic, OutboxMessage.status == "pending")
            .values(status="withdrawn", claimed_until=None, last_error=error)
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def for_topic(self, topic: str) -> Sequence[OutboxMessage]:
        stmt = select(OutboxMessage).where(OutboxMessage.topic == topic)
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
