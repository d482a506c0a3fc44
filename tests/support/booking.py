"""A small booking world on a real database: one organisation, its doctors, attached people.

Clock: 26.11.2026 12:00 МСК (a Thursday). Each doctor works the given days
09:00–15:00 МСК, twenty minutes a visit; each person is attached to the
organisation and bound to a Telegram chat (so their pushes can be read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.booking import schedule
from services.booking.texts import MSK
from services.booking.visits import BookingService
from services.core.access import CurrentUser
from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.core.work import UseCases
from storage.models import Account, Doctor, Organisation, PatientAttachment, Slot, TelegramBinding
from storage.uow import UnitOfWorkFactory

MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

# (last name, first name, middle name, specialty, cabinet)
SOKOLOVA = ("Соколова", "Мария", "Андреевна", "therapist", "101")
ORLOV = ("Орлов", "Игорь", "Иванович", "therapist", "102")
BELOV = ("Белов", "Андрей", "Николаевич", "cardiologist", "201")


def msk(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), MSK)


@dataclass
class BookingWorld:
    ctx: AppContext
    clock: FrozenClock
    work: UnitOfWorkFactory
    org: int
    doctors: dict[str, int]  # by last name
    people: list[CurrentUser]

    @property
    def therapist(self) -> int:
        return self.doctors["Соколова"]

    @property
    def therapist2(self) -> int:
        return self.doctors["Орлов"]

    @property
    def cardiologist(self) -> int:
        return self.doctors["Белов"]

    def booking(self) -> UseCases[BookingService]:
        return UseCases(self.work, self.ctx, BookingService)

    async def slots(self, doctor_id: int, day: date) -> list[Slot]:
        async with self.work() as uow:
            found = await uow.booking.schedule.day(doctor_id, day)
            assert found is not None
            return list(await uow.booking.schedule.slots_of_day(found.id))

    async def slot_at(self, doctor_id: int, moment: datetime) -> Slot:
        for slot in await self.slots(doctor_id, moment.astimezone(MSK).date()):
            if slot.starts_at == moment:
                return slot
        raise AssertionError(f"no slot at {moment}")

    async def book(self, person: CurrentUser, doctor_id: int, moment: datetime) -> int:
        slot = await self.slot_at(doctor_id, moment)
        view = await self.booking().run(lambda b: b.book(person, slot.id))
        assert view.id is not None
        return view.id

    async def outbox(self, account_id: int) -> list[Any]:
        async with self.work() as uow:
            rows = []
            for binding in await uow.identity.bindings.for_account(account_id):
                rows += list(await uow.core.outbox.for_chat(binding.chat_id))
            return rows

    async def free_times(self, doctor_id: int, specialty: str, day: date) -> list[str]:
        times = await self.booking().run(
            lambda b: b.free_times(self.org, specialty, doctor_id, day)
        )
        return [t.time_text for t in times]


async def make_world(
    uow_factory: UnitOfWorkFactory,
    *,
    doctors: Sequence[tuple[str, str, str, str, str]] = (SOKOLOVA, ORLOV, BELOV),
    days: Sequence[date] = (MONDAY, TUESDAY),
    people: int = 12,
) -> BookingWorld:
    """The organisation, `doctors` working `days`, and `people` attached to it."""
    clock = FrozenClock(NOW)
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=ConsoleSms(), mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    now = clock.now()
    async with uow_factory() as uow:
        org = await uow.clinic.organisations.add(
            Organisation(
                name="Городская поликлиника № 1",
                ogrn="1027700000001",
                address="ул. Ленина, 1",
                phone="+7 495 000-00-01",
                created_at=now,
            )
        )
        ids: dict[str, int] = {}
        for last, first, middle, code, cabinet in doctors:
            doctor = await uow.booking.catalog.add_doctor(
                Doctor(
                    organisation_id=org.id,
                    specialty_code=code,
                    last_name=last,
                    first_name=first,
                    middle_name=middle,
                    cabinet=cabinet,
                    active=True,
                )
            )
            ids[last] = doctor.id
            for day in days:
                await schedule.add_day(uow, ctx, doctor.id, day, time(9), time(15), operator="test")
        persons = []
        for n in range(people):
            account = await uow.identity.accounts.add(
                Account(
                    phone=f"+7999100{n:04d}",
                    last_name=f"Пациент{n}",
                    first_name="Тест",
                    password_hash="x",
                    created_at=now,
                )
            )
            await uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=50_000 + n,
                    chat_id=50_000 + n,
                    account_id=account.id,
                    created_at=now,
                )
            )
            await uow.clinic.attachments.add(
                PatientAttachment(
                    patient_account_id=account.id,
                    organisation_id=org.id,
                    since=now - timedelta(days=400),
                )
            )
            persons.append(
                CurrentUser(account_id=account.id, session_id=0, display_name=f"Пациент{n}")
            )
        await uow.commit()
    return BookingWorld(ctx, clock, uow_factory, org.id, ids, persons)
