"""VisitRepo.try_book, the one statement that books, run many times on one connection.

PostgreSQL infers a partial unique index for ``ON CONFLICT`` only from a
predicate it can prove while planning; with the predicate as a bound parameter
that stops once asyncpg's prepared statement switches to a generic plan (the
sixth execution), and every booking after it fails.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from services.booking import schedule
from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from storage.models import Account, Doctor, Organisation
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def test_twenty_bookings_in_one_session_each_hold_their_slot_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    ctx = AppContext(
        gateways=Gateways(clock=FrozenClock(NOW), sms=ConsoleSms(), mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    async with uow_factory() as uow:
        org = await uow.clinic.organisations.add(
            Organisation(name="Поликлиника", ogrn="1027700000019", created_at=NOW)
        )
        doctor = await uow.booking.catalog.add_doctor(
            Doctor(
                organisation_id=org.id,
                specialty_code="therapist",
                last_name="Соколова",
                first_name="Мария",
                cabinet="105",
            )
        )
        patient = await uow.identity.accounts.add(
            Account(
                phone="+79991000001",
                last_name="Пациент",
                first_name="Тест",
                password_hash="!",
                created_at=NOW,
            )
        )
        slots = await schedule.add_day(
            uow, ctx, doctor.id, date(2026, 11, 30), time(9), time(15), operator="test"
        )

        def values(slot_id: int) -> dict[str, object]:
            slot = next(s for s in slots if s.id == slot_id)
            return {
                "slot_id": slot.id,
                "doctor_id": doctor.id,
                "patient_account_id": patient.id,
                "specialty_code": "therapist",
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "status": "booked",
                "booked_by": "test",
                "created_at": NOW,
            }

        first = [await uow.booking.visits.try_book(values(s.id)) for s in slots]
        again = [await uow.booking.visits.try_book(values(s.id)) for s in slots]
        await uow.commit()
    assert len(slots) == 18
    assert all(isinstance(visit_id, int) for visit_id in first)
    assert len(set(first)) == 18
    assert again == [None] * 18
    async with uow_factory() as uow:
        assert await uow.booking.visits.count_booked([s.id for s in slots]) == 18
