"""The inbox of Telegram updates: each one stored before it is acknowledged, handled once.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class InboxUpdate(Base):
    """One update as Telegram sent it, sealed, until it is handled (then only its id stays).

    The row is written before Telegram hears that the update arrived (the next
    getUpdates offset, the webhook's 200), so an update survives a crash; the
    unique (bot_id, update_id) makes a second delivery of the same update a no-op.
    A process handling a row holds a lease on it (`lease_owner`, `lease_until`)
    and renews it; a lease left by a dead process expires and the row is taken
    again. `payload` is the update's JSON sealed with SECRET_KEY (a typed password
    is in it) and is set to NULL once the update is handled.
    """

    __tablename__ = "update_inbox"
    __table_args__ = (
        UniqueConstraint("bot_id", "update_id"),
        Index("ix_update_inbox_pending", "bot_id", "done_at", "update_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    # The chat the update belongs to: one chat's updates are handled in update_id order.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
