"""The embedded chat: a patient's questions to a doctor and the doctor's answers.

Messages are medical data, stored like the record's entries; files are in the
encrypted file store (the row keeps its key, size and SHA-256). The schema itself
comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base

THREAD_STATUSES = ("waiting", "answered", "closed")
AUTHOR_KINDS = ("patient", "relative", "doctor")


class ChatThread(Base):
    """One question of a patient to one doctor (a staff member), and what followed it."""

    __tablename__ = "chat_threads"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'answered', 'closed')", name="status"),
        CheckConstraint("origin IN ('general', 'lab_result', 'visit')", name="origin"),
        Index("ix_chat_threads_staff_status", "staff_id", "status", "waiting_since"),
        Index("ix_chat_threads_patient", "patient_account_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    # What the question came from: a lab result or a visit (its id), or nothing.
    origin: Mapped[str] = mapped_column(String(16), default="general")
    origin_id: Mapped[int | None] = mapped_column(Integer)
    origin_label: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    # Since when the patient waits for an answer (the doctor's list is oldest first).
    waiting_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class ChatMessage(Base):
    """One message of a thread: the patient's (or their relative's) or the doctor's."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint("author IN ('patient', 'relative', 'doctor')", name="author"),
        Index("ix_chat_messages_thread", "thread_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("chat_threads.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(16))
    author_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    # A relative's message: the grant it was written under (their push goes by it).
    author_grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("relative_grants.id", ondelete="SET NULL")
    )
    # How the other side reads the author («Петров И. С.»), as it was when written.
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    mime_type: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # When the other side read it (the unread counts).
    read_at: Mapped[datetime | None]
