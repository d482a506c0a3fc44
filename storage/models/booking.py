"""Booking: specialties, doctors, their working days and slots, visits, the waitlist.

A slot is a doctor's time on a working day. A visit (``appointments``) holds a
slot; the partial unique index ``uq_appointments_slot_booked`` lets only one
booked visit hold a slot, so two people pressing «Записаться» at once cannot
both get it, whatever the code above does. Cancelled and moved visits stay as
history. A waitlist entry asks for a time of a doctor or a specialty within a
date range; an offer holds one freed slot for the entry's patient until it
expires.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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

VISIT_STATUSES = ("booked", "cancelled", "moved")


class Specialty(Base):
    """A doctor's specialty: how long a visit lasts and whether it needs a referral."""

    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    # In the nominative («терапевт»); `to_whom` in the dative («терапевту»).
    name: Mapped[str] = mapped_column(String(100))
    to_whom: Mapped[str] = mapped_column(String(100))
    slot_minutes: Mapped[int] = mapped_column(Integer)
    referral_required: Mapped[bool] = mapped_column(Boolean, default=False)
    what_to_bring: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Department(Base):
    """A department of a medical organisation (терапевтическое отделение …)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))


class Doctor(Base):
    """A doctor patients book: who, which specialty, where they receive.

    ``staff_member_id`` links the doctor to a staff account once the doctor
    signs in to the bot (the doctors' issue); booking needs none.
    """

    __tablename__ = "doctors"
    __table_args__ = (Index("ix_doctors_org_specialty", "organisation_id", "specialty_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialties.code"))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    cabinet: Mapped[str] = mapped_column(String(32))
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL"), unique=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ScheduleDay(Base):
    """One working day of a doctor: its hours, or that it was cancelled and why."""

    __tablename__ = "schedule_days"
    __table_args__ = (
        UniqueConstraint("doctor_id", "day"),
        CheckConstraint("status IN ('working', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    day: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="working")
    reason: Mapped[str | None] = mapped_column(String(300))
    changed_at: Mapped[datetime | None]


class Slot(Base):
    """A doctor's time that one visit can hold; ``day`` is its date in Moscow."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("doctor_id", "starts_at"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_slots_doctor_day", "doctor_id", "day", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    schedule_day_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_days.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")


class Appointment(Base):
    """A visit booked into a slot; cancelled and moved ones stay as history."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled', 'moved')", name="status"),
        # The one rule the database keeps: a slot holds at most one booked visit.
        Index(
            "uq_appointments_slot_booked",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_appointments_patient", "patient_account_id", "status", "starts_at"),
        Index("ix_appointments_doctor_start", "doctor_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialties.code"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="booked")
    # Who booked it, as the journal names them (the patient, a relative).
    booked_by: Mapped[str] = mapped_column(String(64))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    moved_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL")
    )
    # A file the patient attached (a referral, results): in the encrypted file store.
    storage_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_mime: Mapped[str | None] = mapped_column(String(100))


class WaitlistEntry(Base):
    """«Сообщить, если появится время раньше»: a doctor or a specialty within dates."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'booked', 'ended', 'cancelled')", name="status"),
        Index("ix_waitlist_entries_match", "specialty_code", "status", "created_at"),
        Index("ix_waitlist_entries_patient", "patient_account_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialties.code"))
    # None: any doctor of the specialty.
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    date_from: Mapped[date]
    date_to: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class WaitlistOffer(Base):
    """A freed slot offered to one waitlist entry and held for it until ``expires_at``."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'taken', 'expired', 'gone')", name="status"),
        Index("ix_waitlist_offers_slot", "slot_id", "status"),
        Index("ix_waitlist_offers_open", "status", "expires_at"),
        UniqueConstraint("entry_id", "slot_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    patient_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
