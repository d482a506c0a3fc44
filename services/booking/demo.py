"""Demo data of booking: the polyclinic, its doctors and their next 14 working days.

Called by ``services.demo.seed_demo``; running it twice changes nothing. The
days are counted from the day the data are seeded (Moscow time), so the demo
always has times ahead:

- «Городская поликлиника № 1», to which Анна and Петров are attached;
- терапевты Соколова М. А. and Орлов И. П., офтальмолог Ким Е. В., and
  кардиолог Белов А. Н. (referral only);
- 14 working days (Monday to Friday) from the seeding day, 09:00–15:00, 20
  minutes a visit; about a quarter of the times are taken by other patients,
  and every time of Белов's in the first seven days is taken, so the waitlist
  shows;
- Анна has an upcoming visit to Ким (the third working day, 10:00) and a
  referral to the cardiologist; Петров has neither.

The other patients are one placeholder account (``FILLER_PHONE``) that cannot
sign in: its password hash is no hash at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.booking import schedule
from services.booking.texts import MSK, msk_today
from services.core import audit
from services.core.context import AppContext
from storage.models import (
    Account,
    Doctor,
    Organisation,
    PatientAttachment,
    Referral,
    ScheduleDay,
    Slot,
)
from storage.uow import UnitOfWork

ORGANISATION_NAME = "Городская поликлиника № 1"
ORGANISATION_OGRN = "1027700000019"
ORGANISATION_ADDRESS = "г. Москва, ул. Профсоюзная, д. 12"
ORGANISATION_PHONE = "+7 495 123-45-67"
WORKING_DAYS = 14
DAY_START = time(9)
DAY_END = time(15)
FILLER_PHONE = "+79990000099"
OPERATOR = "seed-demo"


@dataclass(frozen=True)
class DemoDoctor:
    last_name: str
    first_name: str
    middle_name: str
    specialty: str
    cabinet: str


DEMO_DOCTORS = (
    DemoDoctor("Соколова", "Мария", "Андреевна", "therapist", "105"),
    DemoDoctor("Орлов", "Игорь", "Петрович", "therapist", "107"),
    DemoDoctor("Ким", "Елена", "Викторовна", "ophthalmologist", "212"),
    DemoDoctor("Белов", "Андрей", "Николаевич", "cardiologist", "301"),
)
# Белов has no free time in the first week: the waitlist can be seen.
FULL_FIRST_WEEK = "Белов"


def working_days(first: date, count: int = WORKING_DAYS) -> list[date]:
    """`count` days from `first` (inclusive) that are Monday to Friday."""
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _taken(doctor_index: int, day_index: int, slot_index: int) -> bool:
    """About one time in four is taken by someone else, the same ones on every run."""
    return (doctor_index * 3 + day_index * 7 + slot_index * 5) % 4 == 0


async def seed_booking(
    uow: UnitOfWork, ctx: AppContext, *, anna_account_id: int, petrov_account_id: int
) -> bool:
    """Seed the polyclinic once; returns ``False`` when it is there already."""
    if await uow.clinic.organisations.by_ogrn(ORGANISATION_OGRN) is not None:
        return False
    now = ctx.gateways.clock.now()
    organisation = await uow.clinic.organisations.add(
        Organisation(
            name=ORGANISATION_NAME,
            ogrn=ORGANISATION_OGRN,
            address=ORGANISATION_ADDRESS,
            phone=ORGANISATION_PHONE,
            created_at=now,
        )
    )
    for account_id in (anna_account_id, petrov_account_id):
        await uow.clinic.attachments.add(
            PatientAttachment(
                patient_account_id=account_id,
                organisation_id=organisation.id,
                since=now - timedelta(days=3 * 365),
            )
        )
    filler = await _filler(uow, now)
    visits: list[dict[str, object]] = []
    length = {s.code: s.slot_minutes for s in await uow.booking.catalog.specialties()}
    days = working_days(msk_today(ctx))
    # Анна's visit to the ophthalmologist (the one-visit-per-specialty rule shows).
    anna_visit = ("Ким", datetime.combine(days[2], time(10), MSK))
    doctors = [
        await uow.booking.catalog.add_doctor(
            Doctor(
                organisation_id=organisation.id,
                specialty_code=demo.specialty,
                last_name=demo.last_name,
                first_name=demo.first_name,
                middle_name=demo.middle_name,
                cabinet=demo.cabinet,
                active=True,
            )
        )
        for demo in DEMO_DOCTORS
    ]
    minutes = {d.id: length[d.specialty_code] for d in doctors}
    # The days and slots as ``schedule.add_day`` makes them, written in two statements
    # (the seed runs before every conversation test) and journaled once below; nobody
    # waits for these times yet, so nothing is offered to a waitlist.
    working = await uow.booking.schedule.add_days(
        [
            ScheduleDay(
                doctor_id=doctor.id,
                day=day,
                starts_at=datetime.combine(day, DAY_START, MSK),
                ends_at=datetime.combine(day, DAY_END, MSK),
                status="working",
            )
            for doctor in doctors
            for day in days
        ]
    )
    slots = {
        (w.doctor_id, w.day): [
            Slot(
                doctor_id=w.doctor_id,
                schedule_day_id=w.id,
                day=w.day,
                starts_at=start,
                ends_at=end,
                status="open",
            )
            for start, end in schedule.cut(w.starts_at, w.ends_at, minutes[w.doctor_id])
        ]
        for w in working
    }
    await uow.booking.schedule.add_slots([slot for day in slots.values() for slot in day])
    for doctor_index, (demo, doctor) in enumerate(zip(DEMO_DOCTORS, doctors, strict=True)):
        for day_index, day in enumerate(days):
            full = demo.last_name == FULL_FIRST_WEEK and day < days[0] + timedelta(days=7)
            for slot_index, slot in enumerate(slots[doctor.id, day]):
                if (demo.last_name, slot.starts_at) == anna_visit:
                    visits.append(_visit(now, slot, doctor, anna_account_id))
                elif full or _taken(doctor_index, day_index, slot_index):
                    visits.append(_visit(now, slot, doctor, filler.id))
    await uow.booking.visits.add_booked(visits)
    await audit.record(
        uow,
        ctx,
        actor=OPERATOR,
        action="schedule.seed_demo",
        organisation_id=organisation.id,
        days=len(days),
        visits=len(visits),
    )
    # Анна's referral from the therapist to the cardiologist.
    today = msk_today(ctx)
    await uow.booking.referrals.add(
        Referral(
            account_id=anna_account_id,
            specialty_code="cardiologist",
            issued_on=today - timedelta(days=5),
            valid_until=today + timedelta(days=60),
            doctor_name="Соколова М. А.",
            organisation_name=ORGANISATION_NAME,
            reason="Повышенный холестерин, контроль давления",
            source="import",
            created_at=now,
        )
    )
    return True


async def _filler(uow: UnitOfWork, now: datetime) -> Account:
    """The other patients' placeholder: an account nobody can sign in to."""
    found = await uow.identity.accounts.find_by_login("phone", FILLER_PHONE)
    if found is not None:
        return found
    return await uow.identity.accounts.add(
        Account(
            phone=FILLER_PHONE,
            last_name="Пациенты",
            first_name="Другие",
            password_hash="!",
            created_at=now,
        )
    )


def _visit(now: datetime, slot: Slot, doctor: Doctor, account: int) -> dict[str, object]:
    return {
        "slot_id": slot.id,
        "doctor_id": doctor.id,
        "patient_account_id": account,
        "specialty_code": doctor.specialty_code,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "status": "booked",
        "booked_by": OPERATOR,
        "created_at": now,
    }
