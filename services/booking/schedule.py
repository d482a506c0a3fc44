"""Doctors' working days and the slots they produce; a day cancelled or changed (``admin``).

``add_day`` makes one working day from its hours and the specialty's slot
length; each new slot is offered to the waitlist. ``cancel_day`` closes the
day's slots and cancels its visits: every patient booked that day gets a push
with the reason and «Выбрать другое время». ``change_day`` gives the day new
hours: the slots outside them are closed and their visits cancelled the same
way, the times inside them the day lacked are opened and offered to the
waitlist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.booking import waitlist
from services.booking.texts import MSK, doctor_short, msk_today, when_text
from services.core import audit, notify
from services.core.context import AppContext
from services.core.errors import DomainError
from storage.models import Doctor, ScheduleDay, Slot
from storage.uow import UnitOfWork

MSG_NO_DOCTOR = "Такого врача нет."
MSG_HOURS = "Конец приёма должен быть позже начала."
MSG_DAY_EXISTS = "На этот день у врача уже есть расписание."
MSG_NO_DAY = "На этот день у врача нет расписания."
MSG_DAY_CANCELLED = "Этот день у врача отменён: изменить часы приёма нельзя."
MSG_DAY_PAST = "Этот день уже прошёл: изменить часы приёма нельзя."


def cut(starts_at: datetime, ends_at: datetime, minutes: int) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each slot of `minutes` that fits into [starts_at, ends_at)."""
    step = timedelta(minutes=minutes)
    times = []
    moment = starts_at
    while moment + step <= ends_at:
        times.append((moment, moment + step))
        moment += step
    return times


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
    slots = [
        Slot(
            doctor_id=doctor_id,
            schedule_day_id=schedule_day.id,
            day=day,
            starts_at=slot_start,
            ends_at=slot_end,
            status="open",
        )
        for slot_start, slot_end in cut(starts_at, ends_at, specialty.slot_minutes)
    ]
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


@dataclass(frozen=True)
class ScheduleMade:
    """What `add_days` did: the days made, their slots, the days skipped (had a schedule)."""

    made: int
    slots: int
    skipped: list[date]


async def add_days(
    uow: UnitOfWork,
    ctx: AppContext,
    doctor_id: int,
    first: date,
    last: date,
    start: time,
    end: time,
    weekdays: frozenset[int],
    *,
    operator: str,
) -> ScheduleMade:
    """Working days from `first` to `last` on `weekdays` (Monday 0); days with one are skipped."""
    if await uow.booking.catalog.doctor(doctor_id) is None:
        raise DomainError(MSG_NO_DOCTOR)
    made, slots, skipped = 0, 0, []
    day = first
    while day <= last:
        if day.weekday() in weekdays:
            if await uow.booking.schedule.day(doctor_id, day) is not None:
                skipped.append(day)
            else:
                created = await add_day(uow, ctx, doctor_id, day, start, end, operator=operator)
                made += 1
                slots += len(created)
        day += timedelta(days=1)
    return ScheduleMade(made=made, slots=slots, skipped=skipped)


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
    told = await _close(uow, ctx, doctor, day, slots, reason, operator=operator)
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


@dataclass(frozen=True)
class DayChange:
    """What ``change_day`` did: slots closed and opened, patients told."""

    closed: int
    opened: int
    told: int


async def change_day(
    uow: UnitOfWork,
    ctx: AppContext,
    doctor_id: int,
    day: date,
    start: time,
    end: time,
    reason: str,
    *,
    operator: str,
) -> DayChange:
    """New hours for a doctor's working day.

    Slots outside the new hours are closed and their visits cancelled (each
    patient is told the reason, with «Выбрать другое время»); times inside the
    new hours that the day did not have are opened and offered to the waitlist.
    Slots that have begun already are left as they are.
    """
    doctor = await uow.booking.catalog.doctor(doctor_id)
    if doctor is None:
        raise DomainError(MSG_NO_DOCTOR)
    schedule_day = await uow.booking.schedule.day(doctor_id, day)
    if schedule_day is None:
        raise DomainError(MSG_NO_DAY)
    if schedule_day.status != "working":
        raise DomainError(MSG_DAY_CANCELLED)
    if day < msk_today(ctx):
        raise DomainError(MSG_DAY_PAST)
    specialty = await uow.booking.catalog.specialty(doctor.specialty_code)
    assert specialty is not None
    starts_at = datetime.combine(day, start, MSK)
    ends_at = datetime.combine(day, end, MSK)
    if ends_at <= starts_at:
        raise DomainError(MSG_HOURS)
    now = ctx.gateways.clock.now()
    old_hours = _hours(schedule_day.starts_at, schedule_day.ends_at)

    slots = list(await uow.booking.schedule.slots_of_day(schedule_day.id))
    ahead = [s for s in slots if s.starts_at > now]
    outside = [s for s in ahead if s.starts_at < starts_at or s.ends_at > ends_at]
    inside = [s for s in ahead if s.starts_at >= starts_at and s.ends_at <= ends_at]
    by_start = {s.starts_at: s for s in slots}

    # Times of the new hours the day lacks: closed ones reopen, missing ones are made.
    reopened = [s for s in inside if s.status == "closed"]
    step = timedelta(minutes=specialty.slot_minutes)
    created: list[Slot] = []
    moment = starts_at
    while moment + step <= ends_at:
        if (
            moment > now
            and moment not in by_start
            and not any(s.starts_at < moment + step and moment < s.ends_at for s in inside)
        ):
            created.append(
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

    schedule_day.starts_at = starts_at
    schedule_day.ends_at = ends_at
    schedule_day.reason = reason
    schedule_day.changed_at = now
    closing = [s for s in outside if s.status == "open"]
    told = await _close(uow, ctx, doctor, day, outside, reason, operator=operator)
    for slot in reopened:
        slot.status = "open"
    await uow.booking.schedule.add_slots(created)
    opened = sorted([*reopened, *created], key=lambda s: s.starts_at)
    for slot in opened:
        await waitlist.offer_freed(uow, ctx, slot)
    await audit.record(
        uow,
        ctx,
        actor=operator,
        action="schedule.change_day",
        doctor_id=doctor_id,
        day=day.isoformat(),
        hours_before=old_hours,
        hours=_hours(starts_at, ends_at),
        closed=len(closing),
        opened=len(opened),
        visits=told,
    )
    return DayChange(closed=len(closing), opened=len(opened), told=told)


def _hours(starts_at: datetime, ends_at: datetime) -> str:
    return f"{starts_at.astimezone(MSK):%H:%M}-{ends_at.astimezone(MSK):%H:%M}"


async def _close(
    uow: UnitOfWork,
    ctx: AppContext,
    doctor: Doctor,
    day: date,
    slots: Sequence[Slot],
    reason: str,
    *,
    operator: str,
) -> int:
    """Close `slots` of the doctor's `day` and cancel the visits booked in them.

    Each patient gets a push with the reason and «Выбрать другое время»; the
    visit's reminders are withdrawn and its referral given back. A time held
    for someone on the waitlist is no longer theirs. Returns how many visits
    were cancelled.
    """
    if not slots:
        return 0
    now = ctx.gateways.clock.now()
    await uow.booking.schedule.close_slots([s.id for s in slots])
    for slot in slots:
        offer = await uow.booking.waitlist.open_offer_for_slot(slot.id)
        if offer is not None:
            offer.status = "gone"
            await notify.withdraw(uow, f"offer:{offer.id}")
    specialty = await uow.booking.catalog.specialty(doctor.specialty_code)
    slot_ids = {s.id for s in slots}
    # The whole Moscow day: the visits are found whatever the day's hours were.
    first = datetime.combine(day, time(0), MSK)
    told = 0
    for visit in await uow.booking.visits.booked_on_day(
        doctor.id, first, first + timedelta(days=1)
    ):
        if visit.slot_id not in slot_ids:
            continue
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
            doctor_id=doctor.id,
        )
        told += 1
    return told
