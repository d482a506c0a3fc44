"""Repositories: Medical organisations, staff, attachments and doctors' step-ups.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from storage.models import DoctorStepUp, Organisation, PatientAttachment, StaffMember
from storage.repositories.base import Repo


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
