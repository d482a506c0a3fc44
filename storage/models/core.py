"""What every area writes: the audit journal and the push outbox.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class AuditEntry(Base):
    """The audit journal: rows are appended, never updated or deleted.

    The rows form a hash chain (storage.repositories.core): `seq` numbers them
    1, 2, 3 … without gaps in the order they were appended, `prev_hash` is the
    `hash` of row `seq - 1`, and `hash` is an HMAC, with a key kept outside the
    database, over the row's content and `prev_hash`. A trigger (migration 0007)
    refuses UPDATE and DELETE.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_seq", "subject_account_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
    subject_account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    # What the actor was allowed (or refused) to do, and on what ground
    # (services.core.access.Permission and Basis); empty for rows that are not
    # about someone's data (a sign-in, a worker's step).
    permission: Mapped[str | None] = mapped_column(String(32))
    basis: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditHead(Base):
    """The one row that says where the journal ends: its last `seq` and that row's hash.

    Appending locks it (FOR UPDATE) so that appends are linear under concurrency;
    `audit verify` compares the last row with it, so removing the newest rows shows.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A push notification, written in the same transaction as the change it tells of."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(32))
    # What the message is about («visit:12»), so that a later change can withdraw
    # it before it is due (a reminder of a visit that was cancelled).
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(255))
