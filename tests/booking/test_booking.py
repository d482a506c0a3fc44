"""Booking's use cases on real databases (SQLite and PostgreSQL) under a frozen clock.

Clock: 26.11.2026 12:00 МСК (a Thursday). The doctors work 09:00–15:00 МСК.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.booking import schedule, waitlist
from services.booking.visits import BookingRefused, SlotTaken
from services.core.access import CurrentUser
from services.core.errors import DomainError
from storage.models import (
    Referral,
)
from storage.uow import UnitOfWorkFactory
from tests.support.booking import MONDAY, TUESDAY, BookingWorld, make_world

World = BookingWorld


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> AsyncIterator[World]:
    yield await make_world(uow_factory)


async def test_a_day_is_cut_into_twenty_minute_slots_and_shown_in_the_month(world: World) -> None:
    slots = await world.slots(world.therapist, MONDAY)
    assert len(slots) == 18
    assert slots[0].starts_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 09:00 МСК
    assert slots[-1].ends_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 15:00 МСК
    days = await world.booking().run(
        lambda b: b.free_days(world.org, "therapist", None, date(2026, 11, 1), date(2026, 11, 30))
    )
    assert days == [MONDAY]
    times = await world.booking().run(lambda b: b.free_times(world.org, "therapist", None, MONDAY))
    # «Любой врач»: both therapists' times, earliest first.
    assert len(times) == 36
    assert times[0].time_text == "09:00"
    assert {t.doctor_short for t in times} == {"Соколова М. А.", "Орлов И. И."}


async def test_booking_holds_the_time_queues_the_push_and_both_reminders(world: World) -> None:
    anna = world.people[0]
    slot = (await world.slots(world.therapist, TUESDAY))[3]  # 10:00 МСК
    view = await world.booking().run(lambda b: b.book(anna, slot.id))
    assert view.when == "1 декабря 2026 (вт) в 10:00"
    assert view.cabinet == "101" and view.address == "ул. Ленина, 1"
    upcoming = await world.booking().run(lambda b: b.upcoming(anna))
    assert [v.id for v in upcoming] == [view.id]
    times = await world.booking().run(
        lambda b: b.free_times(world.org, "therapist", world.therapist, TUESDAY)
    )
    assert slot.id not in {t.slot_id for t in times}
    rows = await world.outbox(anna.account_id)
    by_kind = {r.kind: r for r in rows}
    assert by_kind["visit_booked"].text.startswith("Вы записаны на приём: терапевт Соколова М. А.")
    # The day before at 18:00 МСК, and two hours before.
    assert by_kind["visit_reminder_day"].due_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert by_kind["visit_reminder_soon"].due_at == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert [b["action"] for b in by_kind["visit_reminder_day"].buttons] == [
        "visit_move",
        "visit_cancel",
    ]
    # Two hours before, the visit can no longer be changed here: no buttons that would
    # only be refused, and the registry's phone instead.
    soon = by_kind["visit_reminder_soon"]
    assert [b["action"] for b in soon.buttons] == ["visit"]
    assert soon.text.endswith(
        "Если вы не сможете прийти, позвоните, пожалуйста, в регистратуру по телефону "
        "+7 495 000-00-01."
    )


async def test_a_time_taken_by_someone_else_is_refused(world: World) -> None:
    slot = (await world.slots(world.therapist, MONDAY))[0]
    await world.booking().run(lambda b: b.book(world.people[0], slot.id))
    with pytest.raises(SlotTaken, match="Это время только что заняли"):
        await world.booking().run(lambda b: b.book(world.people[1], slot.id))


async def test_the_rules_each_give_their_reason(world: World) -> None:
    anna = world.people[0]
    monday = await world.slots(world.therapist, MONDAY)
    await world.booking().run(lambda b: b.book(anna, monday[0].id))
    with pytest.raises(BookingRefused, match="уже есть запись к терапевту"):
        await world.booking().run(lambda b: b.book(anna, monday[5].id))
    cardio = await world.slots(world.cardiologist, MONDAY)
    with pytest.raises(BookingRefused, match="нужно направление терапевта"):
        await world.booking().run(lambda b: b.book(anna, cardio[0].id))
    async with world.work() as uow:
        await uow.booking.referrals.add(
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
    await world.booking().run(lambda b: b.book(anna, cardio[0].id))
    world.clock.current = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 10:00 МСК
    with pytest.raises(BookingRefused, match="Это время уже прошло"):
        await world.booking().run(lambda b: b.book(world.people[1], monday[1].id))


async def test_cancelling_frees_the_time_and_withdraws_the_reminders(world: World) -> None:
    anna = world.people[0]
    slot = (await world.slots(world.therapist, TUESDAY))[0]
    view = await world.booking().run(lambda b: b.book(anna, slot.id))
    assert view.id is not None
    visit_id = view.id
    cancelled = await world.booking().run(lambda b: b.cancel(anna, visit_id))
    assert cancelled.status == "cancelled"
    reminders = [r for r in await world.outbox(anna.account_id) if "reminder" in r.kind]
    assert reminders and {r.status for r in reminders} == {"withdrawn"}
    assert await world.booking().run(lambda b: b.upcoming(anna)) == []
    # The time is free again for someone else.
    await world.booking().run(lambda b: b.book(world.people[1], slot.id))


async def test_no_change_later_than_two_hours_before(world: World) -> None:
    anna = world.people[0]
    slot = (await world.slots(world.therapist, MONDAY))[3]  # 10:00 МСК
    view = await world.booking().run(lambda b: b.book(anna, slot.id))
    assert view.id is not None
    visit_id = view.id
    world.clock.current = datetime(2026, 11, 30, 5, 30, tzinfo=UTC)  # 08:30 МСК
    with pytest.raises(BookingRefused, match="не позднее чем за 2 ч"):
        await world.booking().run(lambda b: b.cancel(anna, visit_id))
    other = (await world.slots(world.therapist, TUESDAY))[0]
    with pytest.raises(BookingRefused, match="не позднее чем за 2 ч"):
        await world.booking().run(lambda b: b.move(anna, visit_id, other.id))


async def test_moving_holds_the_new_time_before_letting_the_old_one_go(world: World) -> None:
    anna = world.people[0]
    old_slot = (await world.slots(world.therapist, MONDAY))[0]
    new_slot = (await world.slots(world.therapist2, TUESDAY))[2]
    old = await world.booking().run(lambda b: b.book(anna, old_slot.id))
    assert old.id is not None
    old_id = old.id
    moved = await world.booking().run(lambda b: b.move(anna, old_id, new_slot.id))
    assert moved.doctor_short == "Орлов И. И."
    upcoming = await world.booking().run(lambda b: b.upcoming(anna))
    assert [v.slot_id for v in upcoming] == [new_slot.id]
    await world.booking().run(lambda b: b.book(world.people[1], old_slot.id))


async def test_a_move_interrupted_between_its_steps_leaves_exactly_one_visit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = world.people[0]
    old_slot = (await world.slots(world.therapist, MONDAY))[0]
    new_slot = (await world.slots(world.therapist, TUESDAY))[0]
    old = await world.booking().run(lambda b: b.book(anna, old_slot.id))
    assert old.id is not None
    old_id = old.id

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    # The new time is held; the crash comes before the old one is let go.
    monkeypatch.setattr(waitlist, "settle_offer_for", crash)
    with pytest.raises(RuntimeError):
        await world.booking().run(lambda b: b.move(anna, old_id, new_slot.id))
    upcoming = await world.booking().run(lambda b: b.upcoming(anna))
    assert [v.slot_id for v in upcoming] == [old_slot.id]
    times = await world.booking().run(
        lambda b: b.free_times(world.org, "therapist", world.therapist, TUESDAY)
    )
    assert new_slot.id in {t.slot_id for t in times}


async def test_the_waitlist_offer_is_held_expires_and_passes_to_the_next(world: World) -> None:
    booked_by, first, second, stranger = world.people[:4]
    slot = (await world.slots(world.therapist, MONDAY))[0]
    taken = await world.booking().run(lambda b: b.book(booked_by, slot.id))
    assert taken.id is not None
    taken_id = taken.id
    for person in (first, second):
        await world.booking().run(
            lambda b, p=person: b.join_waitlist(p, "therapist", world.therapist, MONDAY, MONDAY)
        )
    await world.booking().run(lambda b: b.cancel(booked_by, taken_id))

    offers = [r for r in await world.outbox(first.account_id) if r.kind == "waitlist_offer"]
    assert len(offers) == 1
    assert offers[0].text.startswith("Освободилось время: терапевт Соколова М. А.")
    assert "придержим его для вас 15 минут" in offers[0].text
    offer_id = int(offers[0].buttons[0]["arg"])
    # Held: nobody else sees or gets the time.
    with pytest.raises(SlotTaken):
        await world.booking().run(lambda b: b.book(stranger, slot.id))

    world.clock.advance(minutes=16)
    async with world.work() as uow:
        assert await waitlist.tick(uow, world.ctx) == 1
        await uow.commit()
    with pytest.raises(DomainError, match="предложено следующему в очереди"):
        await world.booking().run(lambda b: b.accept_offer(first, offer_id))
    second_offers = [r for r in await world.outbox(second.account_id) if r.kind == "waitlist_offer"]
    assert len(second_offers) == 1
    second_offer = int(second_offers[0].buttons[0]["arg"])
    view = await world.booking().run(lambda b: b.accept_offer(second, second_offer))
    assert view.slot_id == slot.id
    with pytest.raises(DomainError, match="Вы уже записались"):
        await world.booking().run(lambda b: b.accept_offer(second, second_offer))


async def test_a_cancelled_day_tells_every_patient_with_the_reason(world: World) -> None:
    slots = await world.slots(world.therapist, TUESDAY)
    for person, slot in zip(world.people[:3], slots, strict=False):
        await world.booking().run(lambda b, p=person, s=slot: b.book(p, s.id))
    async with world.work() as uow:
        told = await schedule.cancel_day(
            uow, world.ctx, world.therapist, TUESDAY, "врач на больничном", operator="admin"
        )
        await uow.commit()
    assert told == 3
    for person in world.people[:3]:
        rows = await world.outbox(person.account_id)
        notice = [r for r in rows if r.kind == "visit_cancelled_by_clinic"]
        assert len(notice) == 1
        assert "Причина: врач на больничном" in notice[0].text
        assert notice[0].buttons[0]["text"] == "Выбрать другое время"
        assert {r.status for r in rows if "reminder" in r.kind} == {"withdrawn"}
        assert await world.booking().run(lambda b, p=person: b.upcoming(p)) == []
    days = await world.booking().run(
        lambda b: b.free_days(world.org, "therapist", world.therapist, MONDAY, TUESDAY)
    )
    assert days == [MONDAY]


async def test_the_calendar_file_is_an_ics_event_in_moscow_time(world: World) -> None:
    anna = world.people[0]
    slot = (await world.slots(world.therapist, TUESDAY))[0]
    view = await world.booking().run(lambda b: b.book(anna, slot.id))
    assert view.id is not None
    visit_id = view.id
    name, data = await world.booking().run(lambda b: b.calendar_file(anna, visit_id))
    assert name == "priyom-2026-12-01-0900.ics"
    text = data.decode()
    assert "BEGIN:VEVENT" in text and "DTSTART;TZID=Europe/Moscow:20261201T090000" in text


async def test_another_persons_visit_is_not_theirs_to_see_or_cancel(world: World) -> None:
    slot = (await world.slots(world.therapist, TUESDAY))[0]
    view = await world.booking().run(lambda b: b.book(world.people[0], slot.id))
    assert view.id is not None
    visit_id = view.id
    with pytest.raises(DomainError, match="Такой записи нет"):
        await world.booking().run(lambda b: b.cancel(world.people[1], visit_id))


async def test_concurrent_attempts_at_one_slot_exactly_one_wins(world: World) -> None:
    # On PostgreSQL the ten units really overlap; the partial unique index decides.
    slot = (await world.slots(world.therapist, TUESDAY))[0]

    async def attempt(person: CurrentUser) -> str:
        try:
            await world.booking().run(lambda b: b.book(person, slot.id))
        except SlotTaken:
            return "taken"
        return "booked"

    outcomes = await asyncio.gather(*(attempt(p) for p in world.people[:10]))
    assert sorted(outcomes).count("booked") == 1
    async with world.work() as uow:
        assert await uow.booking.visits.count_booked([slot.id]) == 1


async def test_choosing_a_specialty_tells_the_rules_before_the_calendar(world: World) -> None:
    anna = world.people[0]
    with pytest.raises(BookingRefused, match="нужно направление терапевта"):
        await world.booking().run(lambda b: b.check_specialty(anna, "cardiologist"))
    chosen = await world.booking().run(lambda b: b.check_specialty(anna, "therapist"))
    assert chosen.code == "therapist" and not chosen.referral_required
    slot = (await world.slots(world.therapist, MONDAY))[0]
    await world.booking().run(lambda b: b.book(anna, slot.id))
    with pytest.raises(BookingRefused, match="уже есть запись к терапевту"):
        await world.booking().run(lambda b: b.check_specialty(anna, "therapist"))


async def test_a_visit_can_be_changed_only_early_enough(world: World) -> None:
    anna = world.people[0]
    slot = (await world.slots(world.therapist, MONDAY))[3]  # 10:00 МСК
    view = await world.booking().run(lambda b: b.book(anna, slot.id))
    assert view.id is not None
    visit_id = view.id
    checked = await world.booking().run(lambda b: b.check_change(anna, visit_id))
    assert checked.id == visit_id
    with pytest.raises(DomainError, match="Такой записи нет"):
        await world.booking().run(lambda b: b.check_change(world.people[1], visit_id))
    world.clock.current = datetime(2026, 11, 30, 5, 30, tzinfo=UTC)  # 08:30 МСК
    with pytest.raises(BookingRefused, match="не позднее чем за 2 ч"):
        await world.booking().run(lambda b: b.check_change(anna, visit_id))


def test_the_waitlist_period_typed_by_the_person() -> None:
    from services.booking.visits import preset_range, waitlist_range

    today = date(2026, 11, 26)
    assert waitlist_range("01.12.2026–15.12.2026", today, 60) == (
        date(2026, 12, 1),
        date(2026, 12, 15),
    )
    for text in ("1.12.2026 - 15.12.2026", "с 01.12.2026 по 15.12.2026", "01.12.2026—15.12.2026"):
        assert waitlist_range(text, today, 60) == (date(2026, 12, 1), date(2026, 12, 15)), text
    for text, reason in (
        ("завтра", "Не получилось прочитать даты"),
        ("01.12.2026", "Не получилось прочитать даты"),
        ("31.11.2026–03.12.2026", "Такой даты нет"),
        ("03.12.2026–01.12.2026", "начало периода не может быть позже"),
        ("25.11.2026–01.12.2026", "не раньше сегодняшнего дня"),
        ("01.12.2026–01.03.2027", "не позднее 25.01.2027"),
    ):
        with pytest.raises(BookingRefused, match=reason):
            waitlist_range(text, today, 60)
    assert preset_range(today, 14) == (today, date(2026, 12, 10))


async def test_the_held_offer_says_until_when(world: World) -> None:
    booked_by, waiting = world.people[:2]
    slot = (await world.slots(world.therapist, MONDAY))[0]
    taken = await world.booking().run(lambda b: b.book(booked_by, slot.id))
    assert taken.id is not None
    taken_id = taken.id
    await world.booking().run(
        lambda b: b.join_waitlist(waiting, "therapist", world.therapist, MONDAY, MONDAY)
    )
    await world.booking().run(lambda b: b.cancel(booked_by, taken_id))
    [offer] = [r for r in await world.outbox(waiting.account_id) if r.kind == "waitlist_offer"]
    offer_id = int(offer.buttons[0]["arg"])
    held = await world.booking().run(lambda b: b.held_offer(waiting, offer_id))
    assert held.visit.slot_id == slot.id and held.replaces is None
    assert held.expires_at == world.clock.now() + timedelta(minutes=15)
    with pytest.raises(DomainError, match="Такого предложения нет"):
        await world.booking().run(lambda b: b.held_offer(booked_by, offer_id))
