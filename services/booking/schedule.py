"""Doctors' working days and the slots they produce; a day cancelled (``admin`` commands).

``add_day`` makes one working day from its hours and the specialty's slot
length; each new slot is offered to the waitlist. ``cancel_day`` closes the
day's slots and cancels its visits: every patient booked that day gets a push
with the reason and «Выбрать другое время».
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.booking import waitlist
from services.booking.texts import MSK, doctor_short, when_text
from services.core import audit, notify
from services.core.context import AppContext
from services.core.errors import DomainError
from storage.models import ScheduleDay, Slot
from storage.uow import UnitOfWork

MSG_NO_DOCTOR = "Такого врача нет."
MSG_HOURS = "Конец приёма должен быть позже начала."
MSG_DAY_EXISTS = "На этот день у врача уже есть расписание."
MSG_NO_DAY = "На этот день у врача нет расписания."


async def add_day(
    uow: UnitOfWork,
    ctx: AppContext,
    doctor_id: int,
    day: date,
    start: time,
    end: time,
    *,
    operator: str,
    offer: bool = True,
) -> list[Slot]:
    """One working day of the doctor, cut into slots of the specialty's length."""
    doctor = await uow.booking.catalog.doctor(doctor_id)
    if doctor is None:
        raise DomainError(MSG_NO_DOCTOR)
    specialty = await uow.booking.catalog.specialty(doctor.specialty_code)
    assert specialty is not None
    starts_at = datetime.combine(day, start, MSK)
    ends_at = datetime.combine(day, end, MSK)
    if ends_at <= starts_at:
        raise DomainError(MSG_HOURS)
    if await uow.booking.schedule.day(doctor_id, day) is not None:
        raise DomainError(MSG_DAY_EXISTS)
    schedule_day = await uow.booking.schedule.add_day(
        ScheduleDay(
            doctor_id=doctor_id, day=day, starts_at=starts_at, ends_at=ends_at, status="working"
        )
    )
    step = timedelta(minutes=specialty.slot_minutes)
    slots = []
    moment = starts_at
    while moment + step <= ends_at:
        slots.append(
            Slot(
                doctor_id=doctor_id,
                schedule_day_id=schedule_day.id,
                day=day,
                starts_at=moment,
                ends_at=moment + step,
                status="open",
            )
        )
        moment += step
    await uow.booking.schedule.add_slots(slots)
    if offer:
        for slot in slots:
            await waitlist.offer_freed(uow, ctx, slot)
    await audit.record(
        uow,
        ctx,
        actor=operator,
        action="schedule.add_day",
        doctor_id=doctor_id,
        day=day.isoformat(),
        slots=len(slots),
    )
    return slots


async def cancel_day(
    uow: UnitOfWork, ctx: AppContext, doctor_id: int, day: date, reason: str, *, operator: str
) -> int:
    """Cancel a doctor's day; returns how many booked patients were told."""
    doctor = await uow.booking.catalog.doctor(doctor_id)
    schedule_day = await uow.booking.schedule.day(doctor_id, day)
    if doctor is None:
        raise DomainError(MSG_NO_DOCTOR)
    if schedule_day is None:
        raise DomainError(MSG_NO_DAY)
    now = ctx.gateways.clock.now()
    schedule_day.status = "cancelled"
    schedule_day.reason = reason
    schedule_day.changed_at = now
    slots = await uow.booking.schedule.slots_of_day(schedule_day.id)
    await uow.booking.schedule.close_slots([s.id for s in slots])
    specialty = await uow.booking.catalog.specialty(doctor.specialty_code)
    told = 0
    for visit in await uow.booking.visits.booked_on_day(
        doctor_id, schedule_day.starts_at, schedule_day.ends_at + timedelta(seconds=1)
    ):
        visit.status = "cancelled"
        visit.cancelled_at = now
        visit.cancel_reason = reason
        await notify.withdraw(uow, f"visit:{visit.id}")
        if visit.referral_id is not None:
            referral = await uow.booking.referrals.get(visit.referral_id)
            if referral is not None and referral.used_by_appointment_id == visit.id:
                referral.used_by_appointment_id = None
        await notify.to_account(
            uow,
            ctx,
            account_id=visit.patient_account_id,
            kind="visit_cancelled_by_clinic",
            text=(
                f"Приём {when_text(visit.starts_at)} — "
                f"{specialty.name if specialty else ''} {doctor_short(doctor)} — отменён "
                f"поликлиникой. Причина: {reason}. Выберите другое время, пожалуйста."
            ),
            buttons=[
                notify.Button("Выбрать другое время", notify.ButtonAction.REBOOK, str(visit.id))
            ],
        )
        await audit.record(
            uow,
            ctx,
            actor=operator,
            action="visit.cancel_by_clinic",
            subject_account_id=visit.patient_account_id,
            visit_id=visit.id,
            doctor_id=doctor_id,
        )
        told += 1
    await audit.record(
        uow,
        ctx,
        actor=operator,
        action="schedule.cancel_day",
        doctor_id=doctor_id,
        day=day.isoformat(),
        visits=told,
    )
    return told
