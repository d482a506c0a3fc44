"""Repositories: Medical organisations, staff, attachments and doctors' step-ups.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select

from storage.models import (
    Account,
    Appointment,
    ChatThread,
    Doctor,
    DoctorStepUp,
    MedicalRecord,
    Organisation,
    PatientAttachment,
    StaffMember,
)
from storage.repositories.base import Repo

# A booked visit lets its doctor open the card until a day after it ends.
VISIT_GRACE = timedelta(days=1)


class OrganisationRepo(Repo):
    async def add(self, organisation: Organisation) -> Organisation:
        self.session.add(organisation)
        await self.session.flush()
        return organisation

    async def get(self, organisation_id: int) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def by_ogrn(self, ogrn: str) -> Organisation | None:
        stmt = select(Organisation).where(Organisation.ogrn == ogrn)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class StaffRepo(Repo):
    async def add(self, member: StaffMember) -> StaffMember:
        self.session.add(member)
        await self.session.flush()
        return member

    async def get(self, staff_id: int) -> StaffMember | None:
        """The row as the database holds it now (a confirmation withdrawn elsewhere counts)."""
        stmt = (
            select(StaffMember)
            .where(StaffMember.id == staff_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_account(self, account_id: int) -> list[StaffMember]:
        """The account's staff rows, as the database holds them now (oldest first)."""
        stmt = (
            select(StaffMember)
            .where(StaffMember.account_id == account_id)
            .order_by(StaffMember.id)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def find(self, account_id: int, organisation_id: int, role: str) -> StaffMember | None:
        stmt = select(StaffMember).where(
            StaffMember.account_id == account_id,
            StaffMember.organisation_id == organisation_id,
            StaffMember.role == role,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def pending(self, organisation_id: int) -> list[StaffMember]:
        """The organisation's staff whose employment is not confirmed yet."""
        stmt = (
            select(StaffMember)
            .where(
                StaffMember.organisation_id == organisation_id,
                StaffMember.confirmed_at.is_(None),
            )
            .order_by(StaffMember.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def names(self, staff_ids: Sequence[int]) -> dict[int, str]:
        """The full names of the staff members (``Соколова Мария Андреевна``) by their id."""
        if not staff_ids:
            return {}
        stmt = (
            select(StaffMember.id, Account.last_name, Account.first_name, Account.middle_name)
            .join(Account, Account.id == StaffMember.account_id)
            .where(StaffMember.id.in_(set(staff_ids)))
        )
        rows = (await self.session.execute(stmt)).all()
        return {
            row.id: " ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p)
            for row in rows
        }

    async def doctors_named(self, surnames: Sequence[str], limit: int = 10) -> list[Any]:
        """Confirmed doctors of any organisation with one of these surnames (forms of one).

        Rows of (staff id, last, first, middle name, specialty, organisation name).
        """
        if not surnames:
            return []
        stmt = (
            select(
                StaffMember.id,
                Account.last_name,
                Account.first_name,
                Account.middle_name,
                StaffMember.specialty,
                Organisation.name.label("organisation"),
            )
            .join(Account, Account.id == StaffMember.account_id)
            .join(Organisation, Organisation.id == StaffMember.organisation_id)
            .where(
                StaffMember.role == "doctor",
                StaffMember.confirmed_at.is_not(None),
                Account.last_name.in_(set(surnames)),
            )
            .order_by(Account.last_name, Account.first_name, StaffMember.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())

    async def booking_doctor(
        self, organisation_id: int, last_name: str, first_name: str, middle_name: str | None
    ) -> Doctor | None:
        """The organisation's booking doctor of that name not linked to a staff member yet."""
        stmt = (
            select(Doctor)
            .where(
                Doctor.organisation_id == organisation_id,
                Doctor.last_name == last_name,
                Doctor.first_name == first_name,
                Doctor.middle_name.is_(None)
                if middle_name is None
                else Doctor.middle_name == middle_name,
                Doctor.staff_member_id.is_(None),
            )
            .order_by(Doctor.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def has_visit_with(self, staff_id: int, patient_account_id: int, now: datetime) -> bool:
        """Has the patient a visit booked with the booking doctor this staff member is?"""
        stmt = select(
            exists().where(
                Appointment.patient_account_id == patient_account_id,
                Appointment.status == "booked",
                Appointment.ends_at > now - VISIT_GRACE,
                Appointment.doctor_id.in_(
                    select(Doctor.id).where(Doctor.staff_member_id == staff_id)
                ),
            )
        )
        return bool((await self.session.execute(stmt)).scalar())


class PatientRepo(Repo):
    """The patients a doctor works with: attached to the organisation, or booked with them.

    Only patients whose medical record is open are listed (there is no card to open
    otherwise); a page is one LIMIT/OFFSET range with its COUNT.
    """

    @staticmethod
    def _mine(staff_id: int, organisation_id: int, now: datetime) -> ColumnElement[bool]:
        attached = exists().where(
            PatientAttachment.patient_account_id == MedicalRecord.account_id,
            PatientAttachment.organisation_id == organisation_id,
            PatientAttachment.since <= now,
            or_(PatientAttachment.until.is_(None), PatientAttachment.until > now),
        )
        booked = exists().where(
            Appointment.patient_account_id == MedicalRecord.account_id,
            Appointment.status == "booked",
            Appointment.ends_at > now - VISIT_GRACE,
            Appointment.doctor_id.in_(select(Doctor.id).where(Doctor.staff_member_id == staff_id)),
        )
        # A patient who asked this doctor a question (services.chat) is theirs too.
        asked = exists().where(
            ChatThread.patient_account_id == MedicalRecord.account_id,
            ChatThread.staff_id == staff_id,
        )
        return or_(attached, booked, asked)

    def _query(
        self,
        columns: Select[Any],
        staff_id: int,
        organisation_id: int,
        now: datetime,
        *,
        surnames: Sequence[str] = (),
        snils: str | None = None,
        policy: str | None = None,
    ) -> Select[Any]:
        stmt = columns.where(self._mine(staff_id, organisation_id, now))
        if surnames:
            stmt = stmt.where(or_(*(MedicalRecord.last_name.like(f"{s}%") for s in surnames)))
        if snils is not None:
            stmt = stmt.where(MedicalRecord.snils == snils)
        if policy is not None:
            stmt = stmt.where(MedicalRecord.policy_number == policy)
        return stmt

    async def count(
        self,
        staff_id: int,
        organisation_id: int,
        now: datetime,
        *,
        surnames: Sequence[str] = (),
        snils: str | None = None,
        policy: str | None = None,
    ) -> int:
        stmt = self._query(
            select(func.count(MedicalRecord.id)),
            staff_id,
            organisation_id,
            now,
            surnames=surnames,
            snils=snils,
            policy=policy,
        )
        return int((await self.session.execute(stmt)).scalar() or 0)

    async def page(
        self,
        staff_id: int,
        organisation_id: int,
        now: datetime,
        *,
        offset: int,
        limit: int,
        surnames: Sequence[str] = (),
        snils: str | None = None,
        policy: str | None = None,
    ) -> list[MedicalRecord]:
        """The records of one page, by surname, name and id."""
        stmt = (
            self._query(
                select(MedicalRecord),
                staff_id,
                organisation_id,
                now,
                surnames=surnames,
                snils=snils,
                policy=policy,
            )
            .order_by(MedicalRecord.last_name, MedicalRecord.first_name, MedicalRecord.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def one(
        self, staff_id: int, organisation_id: int, now: datetime, patient_account_id: int
    ) -> MedicalRecord | None:
        """The patient's record when the doctor works with them (else None)."""
        stmt = self._query(select(MedicalRecord), staff_id, organisation_id, now).where(
            MedicalRecord.account_id == patient_account_id
        )
        record: MedicalRecord | None = (await self.session.execute(stmt)).scalars().first()
        return record


class AttachmentRepo(Repo):
    async def add(self, attachment: PatientAttachment) -> PatientAttachment:
        self.session.add(attachment)
        await self.session.flush()
        return attachment

    async def current(
        self, patient_account_id: int, organisation_id: int, now: datetime
    ) -> PatientAttachment | None:
        """The patient's attachment to the organisation in force at `now`, if any."""
        stmt = (
            select(PatientAttachment)
            .where(
                PatientAttachment.patient_account_id == patient_account_id,
                PatientAttachment.organisation_id == organisation_id,
                PatientAttachment.since <= now,
                or_(PatientAttachment.until.is_(None), PatientAttachment.until > now),
            )
            .order_by(PatientAttachment.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def current_any(self, patient_account_id: int, now: datetime) -> PatientAttachment | None:
        """The patient's attachment in force at `now` (the newest, if several)."""
        stmt = (
            select(PatientAttachment)
            .where(
                PatientAttachment.patient_account_id == patient_account_id,
                PatientAttachment.since <= now,
                or_(PatientAttachment.until.is_(None), PatientAttachment.until > now),
            )
            .order_by(PatientAttachment.since.desc(), PatientAttachment.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalars().first()


class StepUpRepo(Repo):
    async def add(self, step_up: DoctorStepUp) -> DoctorStepUp:
        self.session.add(step_up)
        await self.session.flush()
        return step_up

    async def latest(self, staff_id: int, patient_account_id: int) -> DoctorStepUp | None:
        """The doctor's step-up for this patient that lasts longest (expired or not)."""
        stmt = (
            select(DoctorStepUp)
            .where(
                DoctorStepUp.staff_id == staff_id,
                DoctorStepUp.patient_account_id == patient_account_id,
            )
            .order_by(DoctorStepUp.expires_at.desc(), DoctorStepUp.id.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalars().first()
