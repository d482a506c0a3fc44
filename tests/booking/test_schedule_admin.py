"""A doctor's day given new hours (``schedule.change_day``) on SQLite and PostgreSQL.

Clock: 26.11.2026 12:00 МСК (a Thursday). Соколова (терапевт) and Белов
(кардиолог) work Monday 30.11 09:00–15:00 МСК, twenty minutes a visit.
The command line that drives it is tested end to end in tests/e2e/test_cli.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.booking import schedule
from services.core.errors import DomainError
from storage.models import (
    Referral,
)
from storage.uow import UnitOfWorkFactory
from tests.support.booking import BELOV, MONDAY, SOKOLOVA, BookingWorld, make_world, msk

REASON = "врач на конференции"


async def change_monday(
    world: BookingWorld, doctor_id: int, start: time, end: time
) -> schedule.DayChange:
    async with world.work() as uow:
        made = await schedule.change_day(
            uow, world.ctx, doctor_id, MONDAY, start, end, REASON, operator="admin:olga"
        )
        await uow.commit()
    return made


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> AsyncIterator[BookingWorld]:
    yield await make_world(uow_factory, doctors=(SOKOLOVA, BELOV), days=(MONDAY,), people=6)


async def test_shorter_hours_cancel_the_visits_outside_them_with_the_reason(
    world: BookingWorld,
) -> None:
    early, kept, late, other = world.people[:4]
    early_visit = await world.book(early, world.therapist, msk(MONDAY, 9))
    kept_visit = await world.book(kept, world.therapist, msk(MONDAY, 11))
    late_visit = await world.book(late, world.therapist, msk(MONDAY, 14, 40))

    change = await change_monday(world, world.therapist, time(10), time(13))

    # 09:00–09:40 and 13:00–14:40 are closed; nothing new opens.
    assert change == schedule.DayChange(closed=9, opened=0, told=2)
    for person, visit_id in ((early, early_visit), (late, late_visit)):
        rows = await world.outbox(person.account_id)
        notices = [r for r in rows if r.kind == "visit_cancelled_by_clinic"]
        assert len(notices) == 1
        assert "отменён поликлиникой. Причина: врач на конференции." in notices[0].text
        assert notices[0].text.startswith("Приём 30 ноября 2026 (пн) в ")
        assert notices[0].buttons == [
            {"text": "Выбрать другое время", "action": "rebook", "arg": str(visit_id)}
        ]
        assert {r.status for r in rows if "reminder" in r.kind} == {"withdrawn"}
        assert await world.booking().run(lambda b, p=person: b.upcoming(p)) == []
        past = await world.booking().run(lambda b, p=person: b.past(p))
        assert [(v.status, v.cancel_reason) for v in past] == [("cancelled", REASON)]
    # The visit inside the new hours stands, untold.
    upcoming = await world.booking().run(lambda b: b.upcoming(kept))
    assert [v.id for v in upcoming] == [kept_visit]
    assert not [r for r in await world.outbox(kept.account_id) if "cancelled" in r.kind]
    assert await world.outbox(other.account_id) == []
    # Only 10:00–12:40 can be booked now (11:00 is taken).
    times = await world.free_times(world.therapist, "therapist", MONDAY)
    assert times == ["10:00", "10:20", "10:40", "11:20", "11:40", "12:00", "12:20", "12:40"]
    async with world.work() as uow:
        day = await uow.booking.schedule.day(world.therapist, MONDAY)
        assert day is not None
        assert (day.starts_at, day.ends_at) == (msk(MONDAY, 10), msk(MONDAY, 13))
        assert day.reason == REASON
        (row,) = await uow.core.audit.all("schedule.change_day")
        assert row.actor == "admin:olga"
        assert row.details["hours_before"] == "09:00-15:00"
        assert row.details["hours"] == "10:00-13:00"
        assert row.details["visits"] == 2
        cancels = await uow.core.audit.all("visit.cancel_by_clinic")
        assert sorted(r.subject_account_id for r in cancels) == sorted(
            [early.account_id, late.account_id]
        )


async def test_the_referral_of_a_cancelled_visit_is_given_back(world: BookingWorld) -> None:
    anna = world.people[0]
    async with world.work() as uow:
        referral = await uow.booking.referrals.add(
            Referral(
                account_id=anna.account_id,
                specialty_code="cardiologist",
                issued_on=date(2026, 11, 20),
                valid_until=date(2027, 1, 20),
                doctor_name="Соколова М. А.",
                organisation_name="Городская поликлиника № 1",
                created_at=world.clock.now(),
            )
        )
        await uow.commit()
        referral_id = referral.id
    visit_id = await world.book(anna, world.cardiologist, msk(MONDAY, 14))
    async with world.work() as uow:
        used = await uow.booking.referrals.get(referral_id)
        assert used is not None and used.used_by_appointment_id == visit_id

    change = await change_monday(world, world.cardiologist, time(9), time(12))
    assert change.told == 1
    async with world.work() as uow:
        back = await uow.booking.referrals.get(referral_id)
        assert back is not None and back.used_by_appointment_id is None
    # With the referral back she can book the cardiologist again.
    await world.book(anna, world.cardiologist, msk(MONDAY, 11))


async def test_longer_hours_open_new_times_and_offer_them_to_the_waitlist(
    world: BookingWorld,
) -> None:
    waiting, second = world.people[4:6]
    # The therapist's Monday is fully booked: both wait for a time that day.
    for n, slot in enumerate(await world.slots(world.therapist, MONDAY)):
        person = world.people[n % 4]
        async with world.work() as uow:
            await uow.booking.visits.try_book(
                {
                    "slot_id": slot.id,
                    "doctor_id": world.therapist,
                    "patient_account_id": person.account_id,
                    "specialty_code": "therapist",
                    "starts_at": slot.starts_at,
                    "ends_at": slot.ends_at,
                    "status": "booked",
                    "booked_by": "test",
                    "created_at": world.clock.now(),
                }
            )
            await uow.commit()
    assert await world.free_times(world.therapist, "therapist", MONDAY) == []
    for person in (waiting, second):
        await world.booking().run(
            lambda b, p=person: b.join_waitlist(p, "therapist", world.therapist, MONDAY, MONDAY)
        )

    change = await change_monday(world, world.therapist, time(8), time(16))

    assert change == schedule.DayChange(closed=0, opened=6, told=0)
    # The first new times (08:00, 08:20) go one to each person waiting, held for them.
    first_offer = [r for r in await world.outbox(waiting.account_id) if r.kind == "waitlist_offer"]
    second_offer = [r for r in await world.outbox(second.account_id) if r.kind == "waitlist_offer"]
    assert len(first_offer) == len(second_offer) == 1
    assert "30 ноября 2026 (пн) в 08:00" in first_offer[0].text
    assert "30 ноября 2026 (пн) в 08:20" in second_offer[0].text
    times = await world.free_times(world.therapist, "therapist", MONDAY)
    assert times == ["08:40", "15:00", "15:20", "15:40"]
    offer_id = int(first_offer[0].buttons[0]["arg"])
    view = await world.booking().run(lambda b: b.accept_offer(waiting, offer_id))
    assert view.starts_at == msk(MONDAY, 8)


async def test_narrowed_then_widened_again_the_closed_times_reopen(world: BookingWorld) -> None:
    await change_monday(world, world.therapist, time(11), time(12))
    assert await world.free_times(world.therapist, "therapist", MONDAY) == [
        "11:00",
        "11:20",
        "11:40",
    ]
    change = await change_monday(world, world.therapist, time(9), time(15))
    assert change == schedule.DayChange(closed=0, opened=15, told=0)
    assert len(await world.free_times(world.therapist, "therapist", MONDAY)) == 18
    assert len(await world.slots(world.therapist, MONDAY)) == 18


async def test_hours_off_the_grid_keep_the_times_inside_and_fill_the_gaps(
    world: BookingWorld,
) -> None:
    change = await change_monday(world, world.therapist, time(8, 10), time(9, 50))
    # 08:10, 08:30 are new; 09:00 and 09:20 stay; 08:50 would overlap 09:00; 09:40 ends late.
    assert change == schedule.DayChange(closed=16, opened=2, told=0)
    times = await world.free_times(world.therapist, "therapist", MONDAY)
    assert times == ["08:10", "08:30", "09:00", "09:20"]


async def test_times_already_begun_are_left_alone(world: BookingWorld) -> None:
    anna = world.people[0]
    await world.book(anna, world.therapist, msk(MONDAY, 9, 20))
    world.clock.current = msk(MONDAY, 10).astimezone(UTC)
    change = await change_monday(world, world.therapist, time(12), time(13))
    # 10:20–11:40 and 13:00–14:40 are closed; 09:00–10:00 have begun and stay as they were.
    assert change == schedule.DayChange(closed=11, opened=0, told=0)
    async with world.work() as uow:
        visits = await uow.booking.visits.booked_on_day(
            world.therapist, msk(MONDAY, 0), msk(MONDAY, 23)
        )
        assert [v.patient_account_id for v in visits] == [anna.account_id]


async def test_what_cannot_be_changed_says_why(world: BookingWorld) -> None:
    async def change(doctor: int, day: date, start: time, end: time) -> None:
        async with world.work() as uow:
            await schedule.change_day(uow, world.ctx, doctor, day, start, end, REASON, operator="t")

    with pytest.raises(DomainError, match="Такого врача нет"):
        await change(999_999, MONDAY, time(9), time(12))
    with pytest.raises(DomainError, match="нет расписания"):
        await change(world.therapist, MONDAY + timedelta(days=1), time(9), time(12))
    with pytest.raises(DomainError, match="Конец приёма должен быть позже начала"):
        await change(world.therapist, MONDAY, time(12), time(9))
    async with world.work() as uow:
        await schedule.cancel_day(uow, world.ctx, world.cardiologist, MONDAY, REASON, operator="t")
        await uow.commit()
    with pytest.raises(DomainError, match="отменён"):
        await change(world.cardiologist, MONDAY, time(9), time(12))
    world.clock.current = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(DomainError, match="уже прошёл"):
        await change(world.therapist, MONDAY, time(9), time(12))


async def test_cancel_day_still_tells_everyone_through_the_shared_code(
    world: BookingWorld,
) -> None:
    people = world.people[:3]
    for n, person in enumerate(people):
        await world.book(person, world.therapist, msk(MONDAY, 9 + n))
    async with world.work() as uow:
        told = await schedule.cancel_day(
            uow, world.ctx, world.therapist, MONDAY, "врач на больничном", operator="admin:olga"
        )
        await uow.commit()
    assert told == 3
    for person in people:
        notices = [
            r
            for r in await world.outbox(person.account_id)
            if r.kind == "visit_cancelled_by_clinic"
        ]
        assert len(notices) == 1 and "Причина: врач на больничном" in notices[0].text
        assert notices[0].buttons[0]["action"] == "rebook"
    assert {s.status for s in await world.slots(world.therapist, MONDAY)} == {"closed"}
