"""The application to open the ЭМК, its documents and the registry stand-in.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base

# Statuses in which an application is "in progress": a person has at most one.
APPLICATION_ACTIVE_STATUSES = ("draft", "accepted", "in_work", "needs_fix")
_ACTIVE_SQL = "status IN ('draft', 'accepted', 'in_work', 'needs_fix')"


class Application(Base):
    """The application to open the ЭМК: the form, its status and the worker's claim.

    Every form field is its own nullable column: a draft fills them one by one.
    ``revision`` grows with every change of the form or the documents, so a
    one-time code can be bound to exactly one version of the application.
    """

    __tablename__ = "applications"
    __table_args__ = (
        # One application in progress per person, guaranteed by the database.
        Index(
            "uq_applications_account_in_progress",
            "account_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        # The queue of waiting applications, oldest first: the processor's next claim
        # is its first free entry, "how many are ahead" one range of it.
        Index(
            "ix_applications_waiting",
            "submitted_at",
            "id",
            "status",
            sqlite_where=text("status IN ('accepted', 'in_work')"),
            postgresql_where=text("status IN ('accepted', 'in_work')"),
        ),
        # The last decided applications, newest first (the pace behind the wait estimate).
        Index(
            "ix_applications_decided",
            "processed_at",
            "id",
            sqlite_where=text("processed_at IS NOT NULL AND processing_started_at IS NOT NULL"),
            postgresql_where=text("processed_at IS NOT NULL AND processing_started_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=0)

    last_name: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    snils: Mapped[str | None] = mapped_column(String(11))
    policy_number: Mapped[str | None] = mapped_column(String(16))
    policy_end: Mapped[date | None] = mapped_column(Date)
    passport_series: Mapped[str | None] = mapped_column(String(4))
    passport_number: Mapped[str | None] = mapped_column(String(6))
    passport_issue_date: Mapped[date | None] = mapped_column(Date)
    passport_division_code: Mapped[str | None] = mapped_column(String(7))
    passport_issued_by: Mapped[str | None] = mapped_column(String(200))
    inn: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    kind: Mapped[str | None] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None]
    # Optional fields the person chose to leave empty (they count as answered).
    skipped_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    processing_started_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # The worker's claim: nobody else takes the application until then.
    lease_until: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(Integer, default=0)


class ApplicationStatusEvent(Base):
    """One entry of an application's status history (with the reasons, in Russian)."""

    __tablename__ = "application_status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ApplicationDocument(Base):
    """A document attached to an application; the file itself is in the file store."""

    __tablename__ = "application_documents"
    __table_args__ = (UniqueConstraint("application_id", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    mime_type: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    uploaded_at: Mapped[datetime]


class RegistryPerson(Base):
    """The local stand-in for the state registry of persons (the default registry gateway)."""

    __tablename__ = "registry_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snils: Mapped[str] = mapped_column(String(11), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    legal_restriction: Mapped[str | None] = mapped_column(Text)
