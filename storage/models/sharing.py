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
# pending: invited, not accepted yet; withdrawn: the patient took the invitation
# back; void: the link was opened with a wrong phone too often.
GRANT_STATUSES = ("pending", "active", "revoked", "withdrawn", "void")
# «Запросить доступ снова» after a revocation or an expiry, and the patient's answer.
ACCESS_REQUEST_STATES = ("pending", "allowed", "declined")


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
        CheckConstraint(
            "status IN ('pending', 'active', 'revoked', 'withdrawn', 'void')", name="status"
        ),
        CheckConstraint(
            "access_request IN ('pending', 'allowed', 'declined')", name="access_request"
        ),
        Index("ix_relative_grants_patient_phone", "patient_account_id", "relative_phone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    relative_phone: Mapped[str] = mapped_column(String(16))
    relative_telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    relative_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # The invitee's full name as the patient typed it (ФИО).
    relative_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Who the relative is to the patient: "parent", "spouse", "child", "other", "trusted".
    relationship: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    include_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # The invitation link: a hash of its token (never the token), its end, its use.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    token_used_at: Mapped[datetime | None]
    # Tries to accept with a phone that is not the invited one (3 void the link).
    wrong_phone_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Wrong one-time codes over all the codes of this link (10 void it).
    code_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdrawn_at: Mapped[datetime | None]
    # Accepting: the Telegram user who shared the invited phone, their code, its tries.
    claimant_telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_sent_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_confirmed_at: Mapped[datetime | None]
    # The consent the relative gave when accepting: the text's version and the time.
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consented_at: Mapped[datetime | None]
    last_access_at: Mapped[datetime | None]
    # «Запросить доступ снова»: pending / allowed / declined, and when it was asked.
    access_request: Mapped[str | None] = mapped_column(String(16))
    access_requested_at: Mapped[datetime | None]
