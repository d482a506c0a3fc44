"""Repositories: specialties, doctors, schedules and slots, visits, referrals, the waitlist.

They flush when they need ids and never commit. A slot is free when it is
open, no booked visit holds it and no open waitlist offer holds it for
someone else; `free_*` queries say that in one statement each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Date,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import insert as insert_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    Appointment,
    Department,
    Doctor,
    Organisation,
    Referral,
    ScheduleDay,
    Slot,
    Specialty,
    WaitlistEntry,
    WaitlistOffer,
)
from storage.repositories.base import Repo


def _free(now: datetime, patient_account_id: int | None) -> ColumnElement[bool]:
    """The slot is open, ahead of `now`, not booked, and not held for another person."""
    booked = exists().where(Appointment.slot_id == Slot.id, Appointment.status == "booked")
    held = exists().where(
        WaitlistOffer.slot_id == Slot.id,
        WaitlistOffer.status == "open",
        WaitlistOffer.expires_at > now,
    )
    if patient_account_id is not None:
        held = held.where(WaitlistOffer.patient_account_id != patient_account_id)
    return and_(Slot.status == "open", Slot.starts_at > now, ~booked, ~held)


class CatalogRepo(Repo):
    """Specialties, organisations, departments and doctors."""

    async def specialties(self) -> Sequence[Specialty]:
        stmt = select(Specialty).order_by(Specialty.position, Specialty.code)
        return (await self.session.execute(stmt)).scalars().all()

    async def specialty(self, code: str) -> Specialty | None:
        return await self.session.get(Specialty, code)

    async def organisation(self, organisation_id: int) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def organisation_by_name(self, name: str) -> Organisation | None:
        stmt = select(Organisation).where(Organisation.name == name)
        return (await self.session.execute(stmt)).scalars().first()

    async def add_department(self, department: Department) -> Department:
        self.session.add(department)
        await self.session.flush()
        return department

    async def add_doctor(self, doctor: Doctor) -> Doctor:
        self.session.add(doctor)
        await self.session.flush()
        return doctor

    async def doctor(self, doctor_id: int) -> Doctor | None:
        return await self.session.get(Doctor, doctor_id)

    async def doctors(self, organisation_id: int, specialty: str | None = None) -> Sequence[Doctor]:
        stmt = select(Doctor).where(Doctor.organisation_id == organisation_id, Doctor.active)
        if specialty is not None:
            stmt = stmt.where(Doctor.specialty_code == specialty)
        stmt = stmt.order_by(Doctor.last_name, Doctor.first_name, Doctor.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def all_doctors(self) -> Sequence[Doctor]:
        stmt = select(Doctor).order_by(Doctor.organisation_id, Doctor.last_name, Doctor.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def doctor_by_name(
        self, organisation_id: int, last_name: str, first_name: str
    ) -> Doctor | None:
        stmt = select(Doctor).where(
            Doctor.organisation_id == organisation_id,
            Doctor.last_name == last_name,
            Doctor.first_name == first_name,
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def department(self, department_id: int) -> Department | None:
        return await self.session.get(Department, department_id)


class ScheduleRepo(Repo):
    """Working days and their slots, and which of them are free."""

    async def day(self, doctor_id: int, day: date) -> ScheduleDay | None:
        stmt = select(ScheduleDay).where(ScheduleDay.doctor_id == doctor_id, ScheduleDay.day == day)
        return (await self.session.execute(stmt)).scalars().first()

    async def add_day(self, schedule_day: ScheduleDay) -> ScheduleDay:
        self.session.add(schedule_day)
        await self.session.flush()
        return schedule_day

    async def add_days(self, days: Sequence[ScheduleDay]) -> list[ScheduleDay]:
        self.session.add_all(list(days))
        await self.session.flush()
        return list(days)

    async def add_slots(self, slots: Sequence[Slot]) -> None:
        self.session.add_all(list(slots))
        await self.session.flush()

    async def slot(self, slot_id: int) -> Slot | None:
        return await self.session.get(Slot, slot_id)

    async def slots_of_day(self, schedule_day_id: int) -> Sequence[Slot]:
        stmt = select(Slot).where(Slot.schedule_day_id == schedule_day_id).order_by(Slot.starts_at)
        return (await self.session.execute(stmt)).scalars().all()

    async def is_free(self, slot_id: int, now: datetime, patient_account_id: int | None) -> bool:
        stmt = select(Slot.id).where(Slot.id == slot_id, _free(now, patient_account_id))
        return (await self.session.execute(stmt)).first() is not None

    def _free_slots(
        self,
        *,
        organisation_id: int,
        specialty: str,
        doctor_id: int | None,
        now: datetime,
        patient_account_id: int | None,
    ) -> ColumnElement[bool]:
        doctor = (
            Slot.doctor_id == doctor_id
            if doctor_id is not None
            else Slot.doctor_id.in_(
                select(Doctor.id).where(
                    Doctor.organisation_id == organisation_id,
                    Doctor.specialty_code == specialty,
                    Doctor.active,
                )
            )
        )
        return and_(doctor, _free(now, patient_account_id))

    async def free_days(
        self,
        *,
        organisation_id: int,
        specialty: str,
        doctor_id: int | None,
        first: date,
        last: date,
        now: datetime,
        patient_account_id: int | None = None,
    ) -> list[date]:
        """The days from `first` to `last` with at least one free time (the month view).

        One probe a day, in one statement: does any free slot exist that day? Each probe
        stops at the first free slot it meets (an index seek per doctor), instead of
        reading every slot of the month of every doctor to keep the distinct days:
        for «Любой врач» over 30 therapists that was ~16,000 slots a month.
        """
        where = self._free_slots(
            organisation_id=organisation_id,
            specialty=specialty,
            doctor_id=doctor_id,
            now=now,
            patient_account_id=patient_account_id,
        )
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        if not days:
            return []
        stmt: Select[Any] | CompoundSelect[Any]
        if self.session.get_bind().dialect.name == "postgresql":
            # One probe planned once and run for each day of a series: 31 probes written
            # out cost PostgreSQL more to plan (~10 ms) than to run (~1 ms).
            n = func.generate_series(0, len(days) - 1).column_valued("n")
            stmt = select(n).where(exists().where(where, Slot.day == literal(first, Date) + n))
        else:
            # SQLite plans cheaply: the probes written out, one a day.
            probes = [
                select(literal(n).label("n")).where(exists().where(where, Slot.day == day))
                for n, day in enumerate(days)
            ]
            stmt = probes[0] if len(probes) == 1 else union_all(*probes)
        found: Sequence[int] = (await self.session.execute(stmt)).scalars().all()
        return sorted(days[n] for n in found)

    async def free_slots(
        self,
        *,
        organisation_id: int,
        specialty: str,
        doctor_id: int | None,
        day: date | None,
        now: datetime,
        patient_account_id: int | None = None,
        limit: int = 60,
        until: date | None = None,
    ) -> list[tuple[Slot, Doctor]]:
        """Free times (of `day`, or the earliest ones up to `until`) with their doctors."""
        where = self._free_slots(
            organisation_id=organisation_id,
            specialty=specialty,
            doctor_id=doctor_id,
            now=now,
            patient_account_id=patient_account_id,
        )
        stmt = select(Slot, Doctor).join(Doctor, Doctor.id == Slot.doctor_id).where(where)
        if day is not None:
            stmt = stmt.where(Slot.day == day)
        if until is not None:
            stmt = stmt.where(Slot.day <= until)
        stmt = stmt.order_by(Slot.starts_at, Doctor.last_name, Slot.id).limit(limit)
        return [(slot, doctor) for slot, doctor in (await self.session.execute(stmt)).all()]

    async def close_slots(self, slot_ids: Sequence[int]) -> None:
        if slot_ids:
            stmt = update(Slot).where(Slot.id.in_(list(slot_ids))).values(status="closed")
            await self.session.execute(stmt)


class VisitRepo(Repo):
    """Booked visits: the one statement that books, and what a person has booked."""

    async def try_book(self, values: dict[str, object]) -> int | None:
        """Insert a booked visit unless the slot is held already; its id, or None.

        ``INSERT … ON CONFLICT DO NOTHING`` on the partial unique index: a
        concurrent booking of the same slot waits for the first to commit and
        then inserts nothing, so exactly one wins and nothing raises.

        The index's predicate is written as a literal: PostgreSQL infers the
        partial index only from a predicate it can prove at planning time, and
        a bound parameter stops doing that once asyncpg's prepared statement
        switches to a generic plan (after five executions).
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(Appointment)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[Appointment.slot_id], index_where=text("status = 'booked'")
            )
            .returning(Appointment.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_booked(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert visits into slots known to be free (seeding): one statement for all."""
        if rows:
            await self.session.execute(insert_(Appointment), list(rows))

    async def get(self, appointment_id: int) -> Appointment | None:
        stmt = (
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_update(self, appointment_id: int) -> Appointment | None:
        """The visit, locked until the unit ends (a move and a cancel do not cross)."""
        stmt = (
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def upcoming(
        self, patient_account_id: int, now: datetime, specialty: str | None = None
    ) -> Sequence[Appointment]:
        stmt = select(Appointment).where(
            Appointment.patient_account_id == patient_account_id,
            Appointment.status == "booked",
            Appointment.starts_at > now,
        )
        if specialty is not None:
            stmt = stmt.where(Appointment.specialty_code == specialty)
        return (await self.session.execute(stmt.order_by(Appointment.starts_at))).scalars().all()

    async def past(
        self, patient_account_id: int, now: datetime, limit: int = 20
    ) -> Sequence[Appointment]:
        """Visits whose time has come, and cancelled ones, newest first."""
        stmt = (
            select(Appointment)
            .where(
                Appointment.patient_account_id == patient_account_id,
                or_(
                    and_(Appointment.status == "booked", Appointment.starts_at <= now),
                    Appointment.status == "cancelled",
                ),
            )
            .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def booked_on_day(
        self, doctor_id: int, first: datetime, last: datetime
    ) -> Sequence[Appointment]:
        stmt = select(Appointment).where(
            Appointment.doctor_id == doctor_id,
            Appointment.status == "booked",
            Appointment.starts_at >= first,
            Appointment.starts_at < last,
        )
        return (await self.session.execute(stmt.order_by(Appointment.starts_at))).scalars().all()

    async def booked_in_slot(self, slot_id: int) -> Appointment | None:
        stmt = select(Appointment).where(
            Appointment.slot_id == slot_id, Appointment.status == "booked"
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def count_booked(self, slot_ids: Sequence[int]) -> int:
        stmt = select(func.count()).where(
            Appointment.slot_id.in_(list(slot_ids)), Appointment.status == "booked"
        )
        return int((await self.session.execute(stmt)).scalar_one())


class ReferralRepo(Repo):
    async def add(self, referral: Referral) -> Referral:
        self.session.add(referral)
        await self.session.flush()
        return referral

    async def usable(self, account_id: int, specialty: str, today: date) -> Referral | None:
        """A referral to `specialty` valid `today` that no booked visit has used."""
        stmt = (
            select(Referral)
            .where(
                Referral.account_id == account_id,
                Referral.specialty_code == specialty,
                Referral.valid_until >= today,
                Referral.issued_on <= today,
                Referral.used_by_appointment_id.is_(None),
            )
            .order_by(Referral.valid_until, Referral.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def get(self, referral_id: int) -> Referral | None:
        return await self.session.get(Referral, referral_id)

    async def for_account(self, account_id: int) -> Sequence[Referral]:
        stmt = select(Referral).where(Referral.account_id == account_id).order_by(Referral.id)
        return (await self.session.execute(stmt)).scalars().all()


class WaitlistRepo(Repo):
    async def add(self, entry: WaitlistEntry) -> WaitlistEntry:
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def entry(self, entry_id: int) -> WaitlistEntry | None:
        stmt = (
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def waiting_of(self, patient_account_id: int) -> Sequence[WaitlistEntry]:
        stmt = (
            select(WaitlistEntry)
            .where(
                WaitlistEntry.patient_account_id == patient_account_id,
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def first_for_slot(
        self, slot: Slot, doctor: Doctor, now: datetime
    ) -> WaitlistEntry | None:
        """The earliest waiting entry this slot suits that was not offered it before.

        Locked (skipping entries another unit is offering to) so two freed
        slots are not offered to one entry at once.
        """
        offered = exists().where(
            WaitlistOffer.entry_id == WaitlistEntry.id,
            or_(WaitlistOffer.slot_id == slot.id, WaitlistOffer.status == "open"),
        )
        # Someone already booked at this time or earlier does not need it.
        visit_as_early = exists().where(
            Appointment.patient_account_id == WaitlistEntry.patient_account_id,
            Appointment.specialty_code == WaitlistEntry.specialty_code,
            Appointment.status == "booked",
            Appointment.starts_at > now,
            Appointment.starts_at <= slot.starts_at,
        )
        stmt = (
            select(WaitlistEntry)
            .where(
                WaitlistEntry.status == "waiting",
                WaitlistEntry.specialty_code == doctor.specialty_code,
                WaitlistEntry.organisation_id == doctor.organisation_id,
                or_(WaitlistEntry.doctor_id.is_(None), WaitlistEntry.doctor_id == doctor.id),
                WaitlistEntry.date_from <= slot.day,
                WaitlistEntry.date_to >= slot.day,
                ~offered,
                ~visit_as_early,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def add_offer(self, offer: WaitlistOffer) -> WaitlistOffer:
        self.session.add(offer)
        await self.session.flush()
        return offer

    async def offer(self, offer_id: int) -> WaitlistOffer | None:
        stmt = (
            select(WaitlistOffer)
            .where(WaitlistOffer.id == offer_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def open_offer_for_slot(self, slot_id: int) -> WaitlistOffer | None:
        stmt = select(WaitlistOffer).where(
            WaitlistOffer.slot_id == slot_id, WaitlistOffer.status == "open"
        )
        return (await self.session.execute(stmt)).scalars().first()

    async def open_offers_of(self, entry_id: int) -> Sequence[WaitlistOffer]:
        stmt = select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry_id, WaitlistOffer.status == "open"
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def expired_offers(self, now: datetime, limit: int = 100) -> Sequence[WaitlistOffer]:
        stmt = (
            select(WaitlistOffer)
            .where(WaitlistOffer.status == "open", WaitlistOffer.expires_at <= now)
            .order_by(WaitlistOffer.expires_at, WaitlistOffer.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def end_past(self, today: date, now: datetime) -> int:
        """Entries whose range is over end (and their open offers with them)."""
        stmt = (
            update(WaitlistEntry)
            .where(WaitlistEntry.status == "waiting", WaitlistEntry.date_to < today)
            .values(status="ended", ended_at=now)
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)
