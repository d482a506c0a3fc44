"""The demo's polyclinic as README describes it, seeded on SQLite and PostgreSQL.

Seeded on 26.11.2026 (a Thursday): the 14 working days are 26.11–15.12.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from services.booking.demo import FILLER_PHONE, working_days
from services.booking.visits import BookingRefused, BookingService
from services.core.access import CurrentUser
from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.core.work import UseCases
from services.demo import seed_demo
from storage.models import Appointment, Slot
from storage.uow import UnitOfWorkFactory


@dataclass
class Demo:
    ctx: AppContext
    work: UnitOfWorkFactory
    anna: CurrentUser
    petrov: CurrentUser
    org: int

    def booking(self) -> UseCases[BookingService]:
        return UseCases(self.work, self.ctx, BookingService)


@pytest.fixture
async def demo(uow_factory: UnitOfWorkFactory) -> AsyncIterator[Demo]:
    ctx = AppContext(
        gateways=Gateways(
            clock=FrozenClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
            sms=ConsoleSms(),
            mail=ConsoleMail(),
        ),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    async with uow_factory() as uow:
        await seed_demo(uow, ctx)
        await uow.commit()
    async with uow_factory() as uow:
        anna = await uow.identity.accounts.find_by_login("phone", "+79990000001")
        petrov = await uow.identity.accounts.find_by_login("phone", "+79990000002")
        assert anna is not None and petrov is not None
        attachment = await uow.clinic.attachments.current_any(anna.id, ctx.gateways.clock.now())
        assert attachment is not None
        org = attachment.organisation_id
    yield Demo(
        ctx,
        uow_factory,
        CurrentUser(account_id=anna.id, session_id=0, display_name="Анна"),
        CurrentUser(account_id=petrov.id, session_id=0, display_name="Сергей"),
        org,
    )


async def test_anna_and_petrov_are_attached_and_see_the_specialties(demo: Demo) -> None:
    for person in (demo.anna, demo.petrov):
        start = await demo.booking().run(lambda b, p=person: b.start(p))
        assert start.organisation_name == "Городская поликлиника № 1"
        assert [s.code for s in start.specialties] == [
            "therapist",
            "ophthalmologist",
            "cardiologist",
        ]
    anna = await demo.booking().run(lambda b: b.start(demo.anna))
    petrov = await demo.booking().run(lambda b: b.start(demo.petrov))
    assert [s.has_referral for s in anna.specialties] == [False, False, True]
    assert [s.has_referral for s in petrov.specialties] == [False, False, False]
    doctors = await demo.booking().run(lambda b: b.doctors(demo.org, "therapist"))
    assert [(d.name, d.cabinet) for d in doctors] == [
        ("Орлов Игорь Петрович", "107"),
        ("Соколова Мария Андреевна", "105"),
    ] or [(d.name, d.cabinet) for d in doctors] == [
        ("Соколова Мария Андреевна", "105"),
        ("Орлов Игорь Петрович", "107"),
    ]


async def test_fourteen_working_days_some_taken_and_belov_full_the_first_week(demo: Demo) -> None:
    days = working_days(date(2026, 11, 26))
    assert days[0] == date(2026, 11, 26) and days[-1] == date(2026, 12, 15) and len(days) == 14
    therapist = await demo.booking().run(
        lambda b: b.free_days(demo.org, "therapist", None, date(2026, 11, 1), date(2026, 12, 31))
    )
    assert therapist == days
    times = await demo.booking().run(
        lambda b: b.free_times(demo.org, "therapist", None, date(2026, 11, 30))
    )
    # Two therapists × 18 times, about a quarter taken.
    assert 20 <= len(times) < 36
    cardio = await demo.booking().run(
        lambda b: b.free_days(demo.org, "cardiologist", None, date(2026, 11, 1), date(2026, 12, 31))
    )
    assert cardio[0] >= date(2026, 12, 3) and cardio == [d for d in days if d >= date(2026, 12, 3)]
    async with demo.work() as uow:
        filler = await uow.identity.accounts.find_by_login("phone", FILLER_PHONE)
        assert filler is not None
        assert filler.password_hash == "!"  # nobody signs in as the other patients


async def test_anna_has_her_ophthalmologist_visit_and_the_rule_shows(demo: Demo) -> None:
    upcoming = await demo.booking().run(lambda b: b.upcoming(demo.anna))
    assert [(v.specialty_name, v.doctor_short, v.when) for v in upcoming] == [
        ("офтальмолог", "Ким Е. В.", "30 ноября 2026 (пн) в 10:00")
    ]
    assert await demo.booking().run(lambda b: b.upcoming(demo.petrov)) == []
    times = await demo.booking().run(
        lambda b: b.free_times(demo.org, "ophthalmologist", None, date(2026, 12, 1))
    )
    with pytest.raises(BookingRefused, match="уже есть запись к офтальмологу"):
        await demo.booking().run(lambda b: b.book(demo.anna, times[0].slot_id))
    # Петров has no referral to the cardiologist; Анна has one.
    cardio = await demo.booking().run(
        lambda b: b.free_times(demo.org, "cardiologist", None, date(2026, 12, 7))
    )
    with pytest.raises(BookingRefused, match="нужно направление терапевта"):
        await demo.booking().run(lambda b: b.book(demo.petrov, cardio[0].slot_id))
    visit = await demo.booking().run(lambda b: b.book(demo.anna, cardio[0].slot_id))
    assert visit.doctor_short == "Белов А. Н." and visit.cabinet == "301"


async def test_seeding_twice_changes_nothing(demo: Demo) -> None:
    async with demo.work() as uow:
        before = (
            await uow.session.scalar(select(func.count()).select_from(Slot)),
            await uow.session.scalar(select(func.count()).select_from(Appointment)),
        )
        await seed_demo(uow, demo.ctx)
        await uow.commit()
    async with demo.work() as uow:
        after = (
            await uow.session.scalar(select(func.count()).select_from(Slot)),
            await uow.session.scalar(select(func.count()).select_from(Appointment)),
        )
    assert before == after and before[0] == 4 * 14 * 18
