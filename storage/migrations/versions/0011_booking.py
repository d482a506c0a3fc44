"""Booking: specialties, doctors, working days and slots, visits, referrals, the waitlist

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A partial unique index lets one slot hold at most one booked visit
(uq_appointments_slot_booked), so concurrent bookings of one time cannot both
win. Slots repeat their Moscow date (`day`) so that a month of a doctor is one
index range. Outbox messages get a `topic` so that a visit's reminders can be
withdrawn when it is cancelled. The specialties patients book are seeded here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BRING_OMS = "паспорт и полис ОМС"
# code, name, to whom, minutes, referral required, what to bring
SPECIALTIES = (
    ("therapist", "терапевт", "терапевту", 20, False, BRING_OMS),
    ("gp", "врач общей практики", "врачу общей практики", 20, False, BRING_OMS),
    (
        "ophthalmologist",
        "офтальмолог",
        "офтальмологу",
        20,
        False,
        f"{BRING_OMS}; очки или контактные линзы, если вы их носите",
    ),
    ("dentist", "стоматолог", "стоматологу", 30, False, BRING_OMS),
    ("surgeon", "хирург", "хирургу", 20, False, f"{BRING_OMS}; снимки и заключения, если есть"),
    (
        "cardiologist",
        "кардиолог",
        "кардиологу",
        20,
        True,
        f"{BRING_OMS}; направление терапевта; ЭКГ и анализы, если есть",
    ),
    (
        "endocrinologist",
        "эндокринолог",
        "эндокринологу",
        20,
        True,
        f"{BRING_OMS}; направление терапевта; результаты анализов на глюкозу и гормоны",
    ),
    (
        "neurologist",
        "невролог",
        "неврологу",
        20,
        True,
        f"{BRING_OMS}; направление терапевта; снимки МРТ или КТ, если есть",
    ),
)


def upgrade() -> None:
    specialties = op.create_table(
        "specialties",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("to_whom", sa.String(length=100), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("referral_required", sa.Boolean(), nullable=False),
        sa.Column("what_to_bring", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_specialties")),
    )
    op.bulk_insert(
        specialties,
        [
            {
                "code": code,
                "name": name,
                "to_whom": to_whom,
                "slot_minutes": minutes,
                "referral_required": referral,
                "what_to_bring": bring,
                "position": position,
            }
            for position, (code, name, to_whom, minutes, referral, bring) in enumerate(SPECIALTIES)
        ],
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_notification_outbox_topic"), ["topic"], unique=False)

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_departments_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
    )
    op.create_index(
        op.f("ix_departments_organisation_id"), "departments", ["organisation_id"], unique=False
    )
    op.create_table(
        "doctors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=True),
        sa.Column("cabinet", sa.String(length=32), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_doctors_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_doctors_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specialty_code"],
            ["specialties.code"],
            name=op.f("fk_doctors_specialty_code_specialties"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_doctors_staff_member_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctors")),
        sa.UniqueConstraint("staff_member_id", name=op.f("uq_doctors_staff_member_id")),
    )
    op.create_index(
        "ix_doctors_org_specialty", "doctors", ["organisation_id", "specialty_code"], unique=False
    )
    op.create_table(
        "schedule_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('working', 'cancelled')", name=op.f("ck_schedule_days_status")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_schedule_days_doctor_id_doctors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_days")),
        sa.UniqueConstraint("doctor_id", "day", name=op.f("uq_schedule_days_doctor_id")),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("schedule_day_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_slots_status")),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_slots_doctor_id_doctors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_day_id"],
            ["schedule_days.id"],
            name=op.f("fk_slots_schedule_day_id_schedule_days"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("doctor_id", "starts_at", name=op.f("uq_slots_doctor_id")),
    )
    op.create_index("ix_slots_doctor_day", "slots", ["doctor_id", "day", "starts_at"], unique=False)
    op.create_index(op.f("ix_slots_schedule_day_id"), "slots", ["schedule_day_id"], unique=False)
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("doctor_name", sa.String(length=200), nullable=False),
        sa.Column("organisation_name", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("used_by_appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_referrals_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_referrals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_referrals_author_staff_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["specialty_code"],
            ["specialties.code"],
            name=op.f("fk_referrals_specialty_code_specialties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index(
        "ix_referrals_account_specialty",
        "referrals",
        ["account_id", "specialty_code", "valid_until"],
        unique=False,
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("booked_by", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("moved_to_id", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_mime", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('booked', 'cancelled', 'moved')", name=op.f("ck_appointments_status")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_appointments_doctor_id_doctors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["moved_to_id"],
            ["appointments.id"],
            name=op.f("fk_appointments_moved_to_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_appointments_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_appointments_referral_id_referrals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slots.id"],
            name=op.f("fk_appointments_slot_id_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specialty_code"],
            ["specialties.code"],
            name=op.f("fk_appointments_specialty_code_specialties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "uq_appointments_slot_booked",
        "appointments",
        ["slot_id"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index(
        "ix_appointments_patient",
        "appointments",
        ["patient_account_id", "status", "starts_at"],
        unique=False,
    )
    op.create_index(
        "ix_appointments_doctor_start", "appointments", ["doctor_id", "starts_at"], unique=False
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("specialty_code", sa.String(length=32), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'booked', 'ended', 'cancelled')",
            name=op.f("ck_waitlist_entries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_waitlist_entries_doctor_id_doctors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_waitlist_entries_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_waitlist_entries_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["specialty_code"],
            ["specialties.code"],
            name=op.f("fk_waitlist_entries_specialty_code_specialties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index(
        "ix_waitlist_entries_match",
        "waitlist_entries",
        ["specialty_code", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_waitlist_entries_patient",
        "waitlist_entries",
        ["patient_account_id", "status"],
        unique=False,
    )
    op.create_table(
        "waitlist_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'taken', 'expired', 'gone')",
            name=op.f("ck_waitlist_offers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["waitlist_entries.id"],
            name=op.f("fk_waitlist_offers_entry_id_waitlist_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_waitlist_offers_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slots.id"],
            name=op.f("fk_waitlist_offers_slot_id_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
        sa.UniqueConstraint("entry_id", "slot_id", name=op.f("uq_waitlist_offers_entry_id")),
    )
    op.create_index(
        "ix_waitlist_offers_slot", "waitlist_offers", ["slot_id", "status"], unique=False
    )
    op.create_index(
        "ix_waitlist_offers_open", "waitlist_offers", ["status", "expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_waitlist_offers_open", table_name="waitlist_offers")
    op.drop_index("ix_waitlist_offers_slot", table_name="waitlist_offers")
    op.drop_table("waitlist_offers")
    op.drop_index("ix_waitlist_entries_patient", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_match", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    op.drop_index("ix_appointments_doctor_start", table_name="appointments")
    op.drop_index("ix_appointments_patient", table_name="appointments")
    op.drop_index("uq_appointments_slot_booked", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index("ix_referrals_account_specialty", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index(op.f("ix_slots_schedule_day_id"), table_name="slots")
    op.drop_index("ix_slots_doctor_day", table_name="slots")
    op.drop_table("slots")
    op.drop_table("schedule_days")
    op.drop_index("ix_doctors_org_specialty", table_name="doctors")
    op.drop_table("doctors")
    op.drop_index(op.f("ix_departments_organisation_id"), table_name="departments")
    op.drop_table("departments")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_outbox_topic"))
        batch_op.drop_column("topic")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("address")
    op.drop_table("specialties")
