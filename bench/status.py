"""Part 3: the queries behind the status screen, over a large applications table.

Seeds `rows` applications with SQLAlchemy Core (bulk inserts): per account three
decided ones and one current; 2 % of the table waits in the queue («Заявка
принята»), a few are in work, some are drafts. The person measured is the one
at the back of the queue, for whom ``ApplicationService.status`` runs the most
queries: their application in progress, its history, the pace (the last
decided applications' durations) and the count of those ahead. Each query is
timed on its own through the repositories the service uses, in a fresh unit of
work per status view (rolled back), after a warm-up; then the whole service
call, and, for comparison, the same queries without the indexes of migration
0004 (as the schema was before it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.backends import Backend
from bench.stats import percentile
from storage.db import create_engine, create_session_factory
from storage.models import Base
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
CHUNK = 2_000
QUEUE_SHARE = 0.02
IN_WORK_SHARE = 0.0005
DRAFT_SHARE = 0.03
QUERIES = ("in_progress_for", "events", "recent_durations", "count_ahead")
# What migration 0004 added (and the index it replaced), to measure the table without them.
INDEXES_0004 = (
    "ix_applications_waiting",
    "ix_applications_decided",
)
INDEX_BEFORE_0004 = "CREATE INDEX ix_applications_queue ON applications (status, submitted_at)"


@dataclass
class Timings:
    per_query_ms: dict[str, list[float]] = field(default_factory=dict)
    total_ms: list[float] = field(default_factory=list)

    def p(self, name: str, q: float) -> float:
        values = self.total_ms if name == "total" else self.per_query_ms.get(name, [])
        return percentile(values, q)


@dataclass
class StatusResult:
    backend: str
    rows: int
    queue: int
    ahead: int
    reps: int
    indexed: Timings
    engine_ms: dict[str, float] = field(default_factory=dict)
    before_0004: Timings | None = None
    before_engine_ms: dict[str, float] = field(default_factory=dict)
    service_ms: list[float] = field(default_factory=list)
    service_error: str | None = None
    seed_seconds: float = 0.0


def _counts(rows: int) -> tuple[int, int, int, int]:
    """(accounts, queue, in work, drafts) for a table of `rows` applications."""
    accounts = max(4, rows // 4)
    queue = max(1, int(rows * QUEUE_SHARE))
    in_work = max(1, int(rows * IN_WORK_SHARE))
    drafts = max(1, int(rows * DRAFT_SHARE))
    return accounts, queue, in_work, drafts


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _rows(rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accounts and applications (ids given, so events can point at them)."""
    accounts_n, queue, in_work, drafts = _counts(rows)
    accounts = [
        {
            "id": n,
            "phone": f"+7997{n:07d}",
            "last_name": "Бенчмарков",
            "first_name": "Иван",
            "password_hash": "not-a-hash",
            "failed_password_attempts": 0,
            "created_at": NOW - timedelta(days=400),
        }
        for n in range(1, accounts_n + 1)
    ]
    applications: list[dict[str, Any]] = []
    next_id = 1
    # Every account has one current application; the rest of the table is decided ones.
    decided_total = rows - accounts_n
    base, extra = divmod(decided_total, accounts_n)
    decided_seen = 0
    for n in range(1, accounts_n + 1):
        for _ in range(base + (1 if n <= extra else 0)):
            # Spread over the past year, the most recent decided a few minutes ago.
            age = timedelta(minutes=5 + 525_600 * (decided_total - decided_seen) / decided_total)
            sent = NOW - age - timedelta(hours=2)
            taken = sent + timedelta(minutes=30)
            applications.append(
                _application(
                    next_id,
                    n,
                    "opened" if decided_seen % 7 else "rejected",
                    sent,
                    taken,
                    taken + timedelta(seconds=60 + decided_seen % 540),
                )
            )
            next_id += 1
            decided_seen += 1
        submitted: datetime | None
        started: datetime | None
        if n <= queue:
            status, submitted, started = "accepted", NOW - timedelta(seconds=queue - n), None
        elif n <= queue + in_work:
            status, submitted = "in_work", NOW - timedelta(hours=3, seconds=n)
            started = NOW - timedelta(minutes=1)
        elif n <= queue + in_work + drafts:
            status, submitted, started = "draft", None, None
        else:
            status = "opened"
            submitted = NOW - timedelta(days=2, seconds=n)
            started = submitted + timedelta(minutes=10)
        processed = started + timedelta(minutes=4) if status == "opened" and started else None
        applications.append(_application(next_id, n, status, submitted, started, processed))
        next_id += 1
    return accounts, applications


def _application(
    app_id: int,
    account_id: int,
    status: str,
    submitted: datetime | None,
    started: datetime | None,
    processed: datetime | None,
) -> dict[str, Any]:
    return {
        "id": app_id,
        "number": None if submitted is None else f"ЭМК-B-{app_id:07d}",
        "account_id": account_id,
        "status": status,
        "revision": 3,
        "last_name": "Бенчмарков",
        "first_name": "Иван",
        "snils": "15623648877",
        "skipped_fields": [],
        "created_at": (submitted or NOW) - timedelta(hours=1),
        "updated_at": processed or submitted or NOW,
        "submitted_at": submitted,
        "processing_started_at": started,
        "processed_at": processed,
        "lease_until": None,
        "attempt": 1 if started else 0,
    }


def _events(applications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for a in applications:
        if a["submitted_at"] is None:
            continue
        events.append(
            {
                "application_id": a["id"],
                "status": "accepted",
                "at": a["submitted_at"],
                "reasons": [],
            }
        )
        if a["processed_at"] is not None:
            events.append(
                {
                    "application_id": a["id"],
                    "status": a["status"],
                    "at": a["processed_at"],
                    "reasons": [],
                }
            )
    return events


async def seed(engine: AsyncEngine, rows: int) -> tuple[int, int]:
    """Bulk-insert the table; returns (the measured person's account id, the queue length)."""
    accounts, applications = _rows(rows)
    events = _events(applications)
    tables_of = Base.metadata.tables
    async with engine.begin() as connection:
        tables: list[tuple[Table, list[dict[str, Any]]]] = [
            (tables_of["accounts"], accounts),
            (tables_of["applications"], applications),
            (tables_of["application_status_events"], events),
        ]
        for table, items in tables:
            for chunk in _chunks(items):
                await connection.execute(insert(table), chunk)
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a table that has just been filled: statistics and
        # the visibility map (so counts may read the index alone).
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for name in ("accounts", "applications", "application_status_events"):
                await auto.execute(text(f"VACUUM ANALYZE {name}"))
    _, queue, _, _ = _counts(rows)
    return queue, queue  # account n waits n-th in the queue: the last one is account `queue`


async def _status_queries(uow_factory: UnitOfWorkFactory, account_id: int, pace: int) -> Timings:
    """One status view's queries, each timed (what the service runs for a person in the queue)."""
    timings = Timings()
    async with uow_factory() as uow:
        repo = uow.enrolment.applications
        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        current = await repo.in_progress_for(account_id)
        marks.append(("in_progress_for", time.perf_counter()))
        assert current is not None and current.submitted_at is not None
        await repo.events(current.id)
        marks.append(("events", time.perf_counter()))
        await repo.recent_durations(pace)
        marks.append(("recent_durations", time.perf_counter()))
        await repo.count_ahead("accepted", current.submitted_at, current.id)
        marks.append(("count_ahead", time.perf_counter()))
        await uow.rollback()
    previous = started
    for name, at in marks:
        timings.per_query_ms.setdefault(name, []).append(1000 * (at - previous))
        previous = at
    timings.total_ms.append(1000 * (previous - started))
    return timings


def _merge(into: Timings, one: Timings) -> None:
    for name, values in one.per_query_ms.items():
        into.per_query_ms.setdefault(name, []).extend(values)
    into.total_ms.extend(one.total_ms)


async def _measure(
    uow_factory: UnitOfWorkFactory, account_id: int, pace: int, reps: int, warmup: int
) -> Timings:
    timings = Timings()
    for n in range(warmup + reps):
        one = await _status_queries(uow_factory, account_id, pace)
        if n >= warmup:
            _merge(timings, one)
    return timings


async def _ahead(uow_factory: UnitOfWorkFactory, account_id: int) -> int:
    async with uow_factory() as uow:
        repo = uow.enrolment.applications
        current = await repo.in_progress_for(account_id)
        assert current is not None and current.submitted_at is not None
        return await repo.count_ahead("accepted", current.submitted_at, current.id)


async def _service_calls(
    url: str, backend: Backend, account_id: int, reps: int
) -> tuple[list[float], str | None]:
    """The whole ``ApplicationService.status`` (audit row included), rolled back each time."""
    try:
        from bot.app import build_runtime
        from bot.config import Settings
        from services.core.access import CurrentUser
        from services.enrolment.application import ApplicationService

        settings = Settings(
            _env_file=None,
            data_dir=backend.workdir / "status" / "data",
            database_url=url,
            redis_url=None,
            bot_token=None,
        )
        runtime = build_runtime(settings)
    except Exception as exc:  # the application is being changed under the bench
        return [], f"{type(exc).__name__}: {exc}"
    times: list[float] = []
    user = CurrentUser(account_id=account_id, session_id=1, display_name="Иван")
    try:
        for n in range(reps + 5):
            async with runtime.uow_factory() as uow:
                started = time.perf_counter()
                view = await ApplicationService(uow, runtime.ctx).status(user)
                elapsed = time.perf_counter() - started
                await uow.rollback()
            if view is None or view.queue_ahead is None:
                return times, "the status screen shows no queue for the person in the queue"
            if n >= 5:
                times.append(1000 * elapsed)
    except Exception as exc:
        return times, f"{type(exc).__name__}: {exc}"
    finally:
        await runtime.close()
    return times, None


@contextmanager
def _capturing(engine: AsyncEngine, into: list[tuple[str, Any]]) -> Iterator[None]:
    """Record the SELECT statements sent to the driver, with their parameters."""

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            into.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)


async def _captured_queries(
    engine: AsyncEngine, uow_factory: UnitOfWorkFactory, account_id: int, pace: int
) -> dict[str, tuple[str, Any]]:
    """The statement each query of a status view sends, by query name."""
    captured: dict[str, tuple[str, Any]] = {}
    async with uow_factory() as uow:
        repo = uow.enrolment.applications
        sent: list[tuple[str, Any]] = []
        with _capturing(engine, sent):
            current = await repo.in_progress_for(account_id)
        captured["in_progress_for"] = sent[-1]
        assert current is not None and current.submitted_at is not None
        calls: dict[str, Any] = {
            "events": lambda: repo.events(current.id),
            "recent_durations": lambda: repo.recent_durations(pace),
            "count_ahead": lambda: repo.count_ahead("accepted", current.submitted_at, current.id),
        }
        for name, call in calls.items():
            sent = []
            with _capturing(engine, sent):
                await call()
            captured[name] = sent[-1]
        await uow.rollback()
    return captured


async def _engine_times(
    engine: AsyncEngine, statements: dict[str, tuple[str, Any]], reps: int
) -> dict[str, float]:
    """Median milliseconds the database itself spends on each statement (no driver, no ORM).

    SQLite: the statement run on the file by the synchronous sqlite3 module
    (a connection of its own), rows fetched. PostgreSQL: planning plus execution
    time reported by ``EXPLAIN (ANALYZE)``.
    """
    result: dict[str, float] = {}
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path
        with closing(sqlite3.connect(path)) as connection:
            for name, (statement, parameters) in statements.items():
                times = []
                for _ in range(reps):
                    started = time.perf_counter()
                    connection.execute(statement, parameters).fetchall()
                    times.append(1000 * (time.perf_counter() - started))
                result[name] = percentile(times, 50)
        return result
    async with engine.connect() as connection:
        for name, (statement, parameters) in statements.items():
            times = []
            for _ in range(reps):
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
                )
                plan = rows.scalar_one()
                report = (json.loads(plan) if isinstance(plan, str) else plan)[0]
                times.append(float(report["Planning Time"]) + float(report["Execution Time"]))
            result[name] = percentile(times, 50)
        await connection.rollback()
    return result


async def _drop_0004_indexes(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for name in INDEXES_0004:
            await connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        await connection.execute(text(INDEX_BEFORE_0004))
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("ANALYZE applications"))


async def run_status(
    backend: Backend, rows: int, reps: int, *, before_0004: bool = True, pace: int | None = None
) -> StatusResult:
    if pace is None:
        from services.enrolment.application import PACE_SAMPLE

        pace = PACE_SAMPLE
    (backend.workdir / "status").mkdir(parents=True, exist_ok=True)
    async with backend.database("status") as url:
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            account_id, queue = await seed(engine, rows)
            seeded = time.perf_counter() - started
            uow_factory = UnitOfWorkFactory(create_session_factory(engine))
            ahead = await _ahead(uow_factory, account_id)
            indexed = await _measure(uow_factory, account_id, pace, reps, warmup=5)
            statements = await _captured_queries(engine, uow_factory, account_id, pace)
            engine_ms = await _engine_times(engine, statements, max(5, reps // 4))
            service_ms, service_error = await _service_calls(url, backend, account_id, reps)
            result = StatusResult(
                backend=backend.label,
                rows=rows,
                queue=queue,
                ahead=ahead,
                reps=reps,
                indexed=indexed,
                engine_ms=engine_ms,
                service_ms=service_ms,
                service_error=service_error,
                seed_seconds=seeded,
            )
            if before_0004:
                await _drop_0004_indexes(engine)
                fewer = max(5, reps // 10)
                result.before_0004 = await _measure(uow_factory, account_id, pace, fewer, warmup=1)
                result.before_engine_ms = await _engine_times(engine, statements, fewer)
        finally:
            await engine.dispose()
    return result
