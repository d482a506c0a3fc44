"""Part 6: booking — the calendar and the day's times over a large schedule; concurrent bookings.

Seeds `doctors` doctors (a hundred per organisation, seven specialties of
twenty-minute visits) with `days` working days each from ``FIRST_DAY``,
09:00–15:00 Moscow time: 18 slots a day, so 1 000 doctors × 60 days are
1 080 000 slots. About 30 % of the slots are booked, one in a thousand is held
for someone on the waitlist, and 2 % of the days are cancelled (their slots
closed). PostgreSQL is seeded with COPY, SQLite with executemany batches; the
seeding is timed on its own, indexes and ANALYZE included.

Then, through the application's own ``BookingService`` (each call in a unit of
work of its own, rolled back), it times what the database costs for:

* ``month, one doctor`` — the month view (``free_days``) of one therapist;
* ``month, any doctor`` — the month view of «Любой врач»: every therapist of
  the organisation;
* ``day, one doctor`` — one day's times (``free_times``) of one therapist;
* ``day, any doctor`` — one day's times of every therapist of the organisation.

Each rep takes another doctor, organisation and day, so that the figures are
not those of one cached page. "Cost of queries" is the statements' time as the
driver reports it, summed per call (as in part 4); the baseline measured in the
same run is one primary-key SELECT of a slot through the same engine. On
PostgreSQL, the planning plus execution time that ``EXPLAIN (ANALYZE)`` reports
for the call's statement is given beside it ("DB alone"), and the plan is kept
(printed for a call short of its target).

Finally ``attempts`` people (asyncio tasks, each ``BookingService.book`` in a
session and a transaction of its own) go for ``contested`` free slots of one
doctor at once, `attempts / contested` per slot: exactly ``contested`` must be
booked, by the partial unique index, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.backends import Backend
from bench.record import _measure
from bench.stats import percentile
from storage.db import create_engine, create_session_factory
from storage.models import Base, Slot
from storage.uow import UnitOfWork, UnitOfWorkFactory

MSK = ZoneInfo("Europe/Moscow")
FIRST_DAY = date(2026, 12, 1)  # a Tuesday
# The bench's clock: 08:00 МСК on the first day, before any slot.
NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
SLOT_MINUTES = 20
SLOTS_PER_DAY = 18  # 09:00–15:00
DOCTORS_PER_ORGANISATION = 100
# Each organisation's hundred doctors (twenty-minute specialties only).
STAFF = (
    ("therapist", 30),
    ("gp", 10),
    ("ophthalmologist", 15),
    ("surgeon", 15),
    ("cardiologist", 10),
    ("endocrinologist", 10),
    ("neurologist", 10),
)
MEASURED = "therapist"
BOOKED_PERCENT = 30
CANCELLED_DAY_PERCENT = 2
HELD_PER_MILLE = 1
FILLERS = 500  # patients holding the seeded visits
CHUNK = 20_000
CALLS = ("month_doctor", "month_any", "day_doctor", "day_any")
CALL_LABELS = {
    "month_doctor": "month, one doctor (free_days)",
    "month_any": "month, any doctor (free_days, «Любой врач»)",
    "day_doctor": "day, one doctor (free_times)",
    "day_any": "day, any doctor (free_times, «Любой врач»)",
}


@dataclass
class BookingResult:
    backend: str
    doctors: int
    days: int
    reps: int
    slots: int = 0
    booked: int = 0
    therapists_per_org: int = 0
    seed_seconds: float = 0.0
    query_ms: dict[str, list[float]] = field(default_factory=dict)
    call_ms: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, float] = field(default_factory=dict)
    engine_ms: dict[str, float] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    reference_ms: list[float] = field(default_factory=list)
    attempts: int = 0
    contested: int = 0
    won: int = 0
    booked_in_db: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    race_seconds: float = 0.0
    error: str | None = None

    def p(self, name: str, q: float) -> float:
        return percentile(self.query_ms.get(name, []), q)

    @property
    def race_ok(self) -> bool:
        return self.won == self.contested and self.booked_in_db == self.contested


# -- seeding --------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    organisations: int
    therapists: dict[int, list[int]]  # organisation → its therapists' ids
    patient: int  # an account attached to organisation 1 with no visit
    contenders: list[int]  # accounts attached to organisation 1 with no visit
    slots: int
    booked: int


def _plan_doctors(doctors: int) -> list[tuple[int, int, str]]:
    """(doctor id, organisation id, specialty) of every doctor."""
    roles = [code for code, count in STAFF for _ in range(count)]
    return [
        (n + 1, n // DOCTORS_PER_ORGANISATION + 1, roles[n % len(roles)]) for n in range(doctors)
    ]


def _days(days: int) -> list[date]:
    return [FIRST_DAY + timedelta(days=n) for n in range(days)]


def _moment(day: date, index: int) -> datetime:
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=MSK)
    return (start + timedelta(minutes=SLOT_MINUTES * index)).astimezone(UTC)


def _schedule_rows(
    plan: Sequence[tuple[int, int, str]], days: Sequence[date]
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each working day with its slots (ids given here, in order)."""
    day_id = 0
    slot_id = 0
    for doctor_id, _, _ in plan:
        for day in days:
            day_id += 1
            cancelled = (day_id * 7919) % 100 < CANCELLED_DAY_PERCENT
            day_row = {
                "id": day_id,
                "doctor_id": doctor_id,
                "day": day,
                "starts_at": _moment(day, 0),
                "ends_at": _moment(day, SLOTS_PER_DAY),
                "status": "cancelled" if cancelled else "working",
                "reason": "врач на больничном" if cancelled else None,
                "changed_at": NOW - timedelta(days=1) if cancelled else None,
            }
            slots = []
            for index in range(SLOTS_PER_DAY):
                slot_id += 1
                slots.append(
                    {
                        "id": slot_id,
                        "doctor_id": doctor_id,
                        "schedule_day_id": day_id,
                        "day": day,
                        "starts_at": _moment(day, index),
                        "ends_at": _moment(day, index + 1),
                        "status": "closed" if cancelled else "open",
                    }
                )
            yield day_row, slots


def _account(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "phone": f"+7997{n:07d}",
        "last_name": "Бенчмарков",
        "first_name": "Пациент",
        "password_hash": "not-a-hash",
        "failed_password_attempts": 0,
        "created_at": NOW - timedelta(days=800),
    }


class _Writer:
    """Bulk rows into tables: COPY on PostgreSQL, executemany batches on SQLite."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.raw: Any = None

    async def open(self) -> None:
        if self.dialect == "postgresql":
            raw = await self.connection.get_raw_connection()
            self.raw = raw.driver_connection

    async def write(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.raw is not None:
            columns = list(rows[0])
            await self.raw.copy_records_to_table(
                table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
            )
        else:
            await self.connection.execute(insert(Base.metadata.tables[table]), list(rows))


async def seed(engine: AsyncEngine, doctors: int, days: int, contenders: int) -> Seeded:
    """Bulk-insert organisations, doctors, their days and slots, visits and a few holds."""
    plan = _plan_doctors(doctors)
    organisations = plan[-1][1]
    day_list = _days(days)
    patient = FILLERS + 1
    contender_ids = list(range(FILLERS + 2, FILLERS + 2 + contenders))
    therapists: dict[int, list[int]] = {}
    for doctor_id, org, code in plan:
        if code == MEASURED:
            therapists.setdefault(org, []).append(doctor_id)
    slots = booked = 0
    async with engine.begin() as connection:
        writer = _Writer(connection, engine.dialect.name)
        await writer.open()
        await writer.write(
            "organisations",
            [
                {
                    "id": org,
                    "name": f"Городская поликлиника № {org}",
                    "ogrn": f"{1027700000000 + org}",
                    "address": f"ул. Ленина, {org}",
                    "phone": "+7 495 000-00-00",
                    "created_at": NOW - timedelta(days=3000),
                }
                for org in range(1, organisations + 1)
            ],
        )
        await writer.write(
            "doctors",
            [
                {
                    "id": doctor_id,
                    "organisation_id": org,
                    "department_id": None,
                    "specialty_code": code,
                    "last_name": f"Врачова{doctor_id}",
                    "first_name": "Мария",
                    "middle_name": "Андреевна",
                    "cabinet": str(100 + doctor_id % 300),
                    "staff_member_id": None,
                    "active": True,
                }
                for doctor_id, org, code in plan
            ],
        )
        people = [_account(n) for n in range(1, FILLERS + 2 + contenders)]
        await writer.write("accounts", people)
        await writer.write(
            "patient_attachments",
            [
                {
                    "patient_account_id": person["id"],
                    "organisation_id": 1 if person["id"] > FILLERS else 1 + n % organisations,
                    "since": NOW - timedelta(days=400),
                }
                for n, person in enumerate(people)
            ],
        )
        specialty_of = {doctor_id: code for doctor_id, _, code in plan}
        day_rows: list[dict[str, Any]] = []
        slot_rows: list[dict[str, Any]] = []
        visits: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []

        async def flush() -> None:
            await writer.write("schedule_days", day_rows)
            await writer.write("slots", slot_rows)
            await writer.write("waitlist_entries", entries)
            await writer.write("appointments", visits)
            await writer.write("waitlist_offers", held)
            for rows in (day_rows, slot_rows, visits, held, entries):
                rows.clear()

        for day_row, day_slots in _schedule_rows(plan, day_list):
            day_rows.append(day_row)
            slot_rows.extend(day_slots)
            slots += len(day_slots)
            if day_row["status"] != "working":
                continue
            for slot in day_slots:
                mix = (slot["id"] * 2654435761) % 1000
                if mix < BOOKED_PERCENT * 10:
                    booked += 1
                    visits.append(
                        {
                            "id": booked,
                            "slot_id": slot["id"],
                            "doctor_id": slot["doctor_id"],
                            "patient_account_id": 1 + slot["id"] % FILLERS,
                            "specialty_code": specialty_of[slot["doctor_id"]],
                            "starts_at": slot["starts_at"],
                            "ends_at": slot["ends_at"],
                            "status": "booked",
                            "booked_by": "bench",
                            "created_at": NOW - timedelta(days=3),
                        }
                    )
                elif mix >= 1000 - HELD_PER_MILLE:
                    entry_id = slot["id"]
                    entries.append(
                        {
                            "id": entry_id,
                            "patient_account_id": 1 + slot["id"] % FILLERS,
                            "organisation_id": 1,
                            "specialty_code": specialty_of[slot["doctor_id"]],
                            "doctor_id": None,
                            "date_from": FIRST_DAY,
                            "date_to": day_list[-1],
                            "status": "waiting",
                            "created_at": NOW - timedelta(days=2),
                        }
                    )
                    held.append(
                        {
                            "entry_id": entry_id,
                            "slot_id": slot["id"],
                            "patient_account_id": 1 + slot["id"] % FILLERS,
                            "status": "open",
                            "offered_at": NOW - timedelta(minutes=5),
                            "expires_at": NOW + timedelta(minutes=10),
                        }
                    )
            if len(slot_rows) >= CHUNK:
                await flush()
        await flush()
        if engine.dialect.name == "postgresql":
            # Rows came with their ids: the sequences go past them.
            for table in (
                "organisations",
                "doctors",
                "accounts",
                "schedule_days",
                "slots",
                "appointments",
                "waitlist_entries",
                "waitlist_offers",
                "patient_attachments",
            ):
                # The names are this module's constants, not input.
                query = (
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
                await connection.execute(text(query))
    await _analyze(engine)
    return Seeded(organisations, therapists, patient, contender_ids, slots, booked)


async def _analyze(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for name in (
                "doctors",
                "schedule_days",
                "slots",
                "appointments",
                "waitlist_entries",
                "waitlist_offers",
            ):
                await auto.execute(text(f"VACUUM ANALYZE {name}"))
    else:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))


# -- the queries ----------------------------------------------------------------------


Call = Callable[[UnitOfWork], Awaitable[Any]]


def _calls(seeded: Seeded, days: int, ctx: Any) -> dict[str, Call]:
    """The four views, each rep on another doctor / organisation / day."""
    from services.booking.visits import BookingService

    orgs = sorted(seeded.therapists)
    doctors = [(org, d) for org in orgs for d in seeded.therapists[org]]
    spread = itertools.count()
    last_day = FIRST_DAY + timedelta(days=days - 1)

    def pick() -> tuple[int, int, date]:
        n = next(spread)
        org, doctor = doctors[(n * 7) % len(doctors)]
        return org, doctor, FIRST_DAY + timedelta(days=(n * 11) % days)

    def month(day: date) -> tuple[date, date]:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return max(first, FIRST_DAY), min(following - timedelta(days=1), last_day)

    async def month_doctor(uow: UnitOfWork) -> Any:
        org, doctor, day = pick()
        first, last = month(day)
        return await BookingService(uow, ctx).free_days(
            org, MEASURED, doctor, first, last, for_account=seeded.patient
        )

    async def month_any(uow: UnitOfWork) -> Any:
        org, _, day = pick()
        first, last = month(day)
        return await BookingService(uow, ctx).free_days(
            org, MEASURED, None, first, last, for_account=seeded.patient
        )

    async def day_doctor(uow: UnitOfWork) -> Any:
        org, doctor, day = pick()
        return await BookingService(uow, ctx).free_times(
            org, MEASURED, doctor, day, for_account=seeded.patient
        )

    async def day_any(uow: UnitOfWork) -> Any:
        org, _, day = pick()
        return await BookingService(uow, ctx).free_times(
            org, MEASURED, None, day, for_account=seeded.patient
        )

    return {
        "month_doctor": month_doctor,
        "month_any": month_any,
        "day_doctor": day_doctor,
        "day_any": day_any,
    }


@contextmanager
def _capture(engine: AsyncEngine, into: list[tuple[str, Any]]) -> Iterator[None]:
    def before(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        into.append((statement, parameters))

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(sync, "before_cursor_execute", before)


async def _explain(
    engine: AsyncEngine, factory: UnitOfWorkFactory, call: Call, reps: int
) -> tuple[float, str]:
    """The call's slowest statement: its median planning + execution time and its plan.

    PostgreSQL only (``EXPLAIN (ANALYZE)``); SQLite gives its query plan and no time.
    """
    captured: list[tuple[str, Any]] = []
    with _capture(engine, captured):
        async with factory() as uow:
            await call(uow)
            await uow.rollback()
    if not captured:
        return float("nan"), ""
    # The views run one statement each (BookingService reads the schedule only).
    statement, parameters = max(captured, key=lambda c: len(c[0]))
    async with engine.connect() as connection:
        if engine.dialect.name != "postgresql":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return float("nan"), "\n".join(str(r[-1]) for r in rows)
        times = []
        plan_text = ""
        for n in range(max(1, reps)):
            rows = await connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
            )
            raw = rows.scalar_one()
            report = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            times.append(float(report["Planning Time"]) + float(report["Execution Time"]))
            if n == 0:
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
                )
                plan_text = "\n".join(str(r[0]) for r in rows)
        await connection.rollback()
    return percentile(times, 50), plan_text


# -- the race -------------------------------------------------------------------------


async def _race(
    url: str, ctx: Any, seeded: Seeded, attempts: int, contested: int
) -> tuple[list[str], int, float]:
    """`attempts` bookings at once at `contested` fresh slots; outcomes and rows booked."""
    from services.booking.visits import BookingService, SlotTaken
    from services.core.access import CurrentUser
    from services.core.work import UseCases

    if url.startswith("sqlite"):
        engine = create_engine(url)
    else:
        # Enough connections that the attempts really overlap (the server allows 100).
        engine = create_async_engine(url, pool_size=25, max_overflow=25, hide_parameters=True)
    try:
        factory = UnitOfWorkFactory(create_session_factory(engine))
        doctor = seeded.therapists[1][0]
        # A day of the doctor's after the seeded ones: `contested` slots, all free.
        async with engine.begin() as connection:
            day = FIRST_DAY + timedelta(days=400)
            day_id = (
                await connection.execute(
                    insert(Base.metadata.tables["schedule_days"]).returning(
                        Base.metadata.tables["schedule_days"].c.id
                    ),
                    {
                        "doctor_id": doctor,
                        "day": day,
                        "starts_at": _moment(day, 0),
                        "ends_at": _moment(day, contested),
                        "status": "working",
                    },
                )
            ).scalar_one()
            await connection.execute(
                insert(Slot),
                [
                    {
                        "doctor_id": doctor,
                        "schedule_day_id": day_id,
                        "day": day,
                        "starts_at": _moment(day, index),
                        "ends_at": _moment(day, index + 1),
                        "status": "open",
                    }
                    for index in range(contested)
                ],
            )
            slot_ids = list(
                (
                    await connection.execute(
                        select(Slot.id).where(Slot.schedule_day_id == day_id).order_by(Slot.id)
                    )
                )
                .scalars()
                .all()
            )
        people = [
            CurrentUser(account_id=account, session_id=0, display_name="Пациент")
            for account in seeded.contenders[:attempts]
        ]
        start = asyncio.Event()

        async def attempt(person: CurrentUser, slot_id: int) -> str:
            await start.wait()
            try:
                await UseCases(factory, ctx, BookingService).run(lambda b: b.book(person, slot_id))
            except SlotTaken:
                return "taken"
            except Exception as exc:
                return type(exc).__name__
            return "booked"

        tasks = [
            asyncio.create_task(attempt(person, slot_ids[n % len(slot_ids)]))
            for n, person in enumerate(people)
        ]
        await asyncio.sleep(0)
        started = time.perf_counter()
        start.set()
        outcomes = list(await asyncio.gather(*tasks))
        seconds = time.perf_counter() - started
        async with factory() as uow:
            in_db = await uow.booking.visits.count_booked(slot_ids)
    finally:
        await engine.dispose()
    return outcomes, in_db, seconds


# -- the part -------------------------------------------------------------------------


async def run_booking(
    backend: Backend,
    doctors: int,
    days: int,
    reps: int,
    *,
    attempts: int = 100,
    contested: int = 20,
    explain_reps: int = 5,
) -> BookingResult:
    result = BookingResult(backend.label, doctors, days, reps)
    result.attempts, result.contested = attempts, contested
    async with backend.database("booking") as url:
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            seeded = await seed(engine, doctors, days, attempts)
            result.seed_seconds = time.perf_counter() - started
            result.slots, result.booked = seeded.slots, seeded.booked
            result.therapists_per_org = len(seeded.therapists.get(1, []))
            factory = UnitOfWorkFactory(create_session_factory(engine))
            try:
                ctx = _context()
                calls = _calls(seeded, days, ctx)
                for name, call in calls.items():
                    queries, times, per_call = await _measure(engine, factory, call, reps)
                    result.query_ms[name] = queries
                    result.call_ms[name] = times
                    result.statements[name] = per_call
                    result.engine_ms[name], result.plans[name] = await _explain(
                        engine, factory, call, explain_reps
                    )

                async def reference(uow: UnitOfWork) -> Any:
                    stmt = select(Slot.id, Slot.starts_at).where(Slot.id == 1)
                    return (await uow.session.execute(stmt)).first()

                result.reference_ms, _, _ = await _measure(engine, factory, reference, reps)
                outcomes, result.booked_in_db, result.race_seconds = await _race(
                    url, ctx, seeded, attempts, contested
                )
                result.outcomes = dict(Counter(outcomes))
                result.won = result.outcomes.get("booked", 0)
            except Exception as exc:  # the application is being changed under the bench
                result.error = f"{type(exc).__name__}: {exc}"
        finally:
            await engine.dispose()
    return result


def _context() -> Any:
    from services.core.context import AppContext
    from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
    from services.core.hashing import PasswordHasher

    return AppContext(
        gateways=Gateways(clock=FrozenClock(NOW), sms=ConsoleSms(), mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"b" * 32,
    )
