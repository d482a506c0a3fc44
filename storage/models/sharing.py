"""Sharing a card: the access a patient grants a relative.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base

GRANT_LEVELS = ("view", "view_download", "full")
GRANT_STATUSES = ("pending", "active", "revoked")


class RelativeGrant(Base):
    """A patient's invitation to a relative, and the access it gives once accepted.

    The relative is invited by phone; accepting binds the grant to the Telegram
    account that accepted it (``relative_telegram_user_id``) and, when the
    relative has a portal account, to that account. ``expires_at`` (optional)
    ends the access by itself; revoking ends it at once. Rows are never
    deleted: a revoked grant stays as the record of what was shared.
    """

    __tablename__ = "relative_grants"
    __table_args__ = (
        CheckConstraint("level IN ('view', 'view_download', 'full')", name="level"),
        CheckConstraint("status IN ('pending', 'active', 'revoked')", name="status"),
        Index("ix_relative_grants_patient_phone", "patient_account_id", "relative_phone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    relative_phone: Mapped[str] = mapped_column(String(16))
    relative_telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    relative_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # Who the relative is to the patient: "parent", "child", "spouse", "guardian", "other".
    relationship: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    include_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
