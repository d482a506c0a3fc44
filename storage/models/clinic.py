"""Medical organisations, their staff, the patients attached to them, doctors' step-ups.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base

STAFF_ROLES = ("doctor", "org_admin")


class Organisation(Base):
    """A medical organisation (поликлиника, больница), known by its ОГРН."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    ogrn: Mapped[str] = mapped_column(String(13), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    # How to reach the registry (регистратура), shown where a visit cannot be changed here.
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class StaffMember(Base):
    """A portal account working in an organisation; nothing opens until it is confirmed."""

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint("role IN ('doctor', 'org_admin')", name="role"),
        UniqueConstraint("account_id", "organisation_id", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    # Who confirmed the employment: ``admin:<operator>`` or ``staff:<id>`` (an org-admin).
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    # When the authenticator app was enrolled and one code from it confirmed; until then
    # the account's sign-in enrols it (services.identity.auth, the staff part).
    totp_enrolled_at: Mapped[datetime | None]


class PatientAttachment(Base):
    """A patient attached to an organisation (прикрепление) from `since` until `until`."""

    __tablename__ = "patient_attachments"
    __table_args__ = (
        Index("ix_patient_attachments_patient_org", "patient_account_id", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    since: Mapped[datetime]
    until: Mapped[datetime | None]


class DoctorStepUp(Base):
    """A doctor confirmed a second factor to open one patient's card for a while."""

    __tablename__ = "doctor_step_ups"
    __table_args__ = (
        Index("ix_doctor_step_ups_staff_patient", "staff_id", "patient_account_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    patient_account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # Why the card is opened (a visit, a consultation): for the journal.
    purpose: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
