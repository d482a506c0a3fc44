"""Part 4: the record's lab results over a large table, and the trend chart.

Seeds `accounts` accounts and `results` lab results with SQLAlchemy Core (bulk
inserts): every account has its share of results with one analyte each; the
person measured has `PERSON_RESULTS` results of five analytes (more than a
page, a test filter with several tests, a series of glucose values). Then,
through the application's own service (the access rule and the audit row
included, rolled back each time), it times what the database costs:

* ``list``  — «Результаты анализов», the first page;
* ``page3`` — the third page;
* ``filter`` — the first page filtered by one test;
* ``detail`` — one result with its analytes (marking it seen);
* ``series`` — an analyte's values over time («Динамика»).

"Cost of queries" is the time between each statement's start and end as the
driver reports it (SQLAlchemy's cursor events), summed per call; the whole
call's time is printed beside it. The baseline measured in the same run is one
primary-key SELECT of a result through the same engine: the floor a query
costs here.

The chart: `render_trend` over 5 and over 50 values, against an empty
matplotlib Figure saved as PNG with the same canvas (matplotlib's fixed cost),
each timed, and the peak memory of one rendering (tracemalloc, in a second pass
so that it does not slow the timing).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.backends import Backend
from bench.stats import percentile
from storage.db import create_engine, create_session_factory
from storage.models import Base, LabResult
from storage.uow import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
CHUNK = 5_000
PERSON_RESULTS = 60
PERSON_TESTS = (
    ("14749-6", "Глюкоза", "ммоль/л", 3.9, 6.1, 5.2),
    ("14647-2", "Холестерин общий", "ммоль/л", None, 5.2, 4.8),
    ("58410-2", "Общий анализ крови", "г/л", 120.0, 140.0, 131.0),
)
CALLS = ("list", "page3", "filter", "detail", "series")


@dataclass
class RecordResult:
    backend: str
    accounts: int
    results: int
    reps: int
    seed_seconds: float = 0.0
    query_ms: dict[str, list[float]] = field(default_factory=dict)
    call_ms: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, float] = field(default_factory=dict)
    reference_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def p(self, name: str, q: float) -> float:
        return percentile(self.query_ms.get(name, []), q)


def _chunks(n: int) -> Iterator[range]:
    for start in range(0, n, CHUNK):
        yield range(start, min(n, start + CHUNK))


def _result_row(rid: int, account: int, code: str, name: str, at: datetime) -> dict[str, Any]:
    return {
        "id": rid,
        "account_id": account,
        "api_client_id": None,
        "report_identifier": f"bench-{rid}",
        "test_code": code,
        "test_name": name,
        "ordered_by": "Соколова М. А.",
        "laboratory_name": "КДЛ Городской поликлиники № 1",
        "status": "final",
        "collected_at": at - timedelta(hours=4),
        "issued_at": at,
        "sensitive": False,
        "lab_comment": None,
        "doctor_comment": None,
        "seen_at": at,
        "source": "import",
        "created_at": at,
        "updated_at": at,
    }


def _observation(
    rid: int, account: int, at: datetime, position: int, spec: tuple[Any, ...], value: float
) -> dict[str, Any]:
    code, name, unit, low, high, _ = spec
    flag = "high" if high is not None and value > high else "normal"
    return {
        "result_id": rid,
        "account_id": account,
        "issued_at": at,
        "position": position,
        "code": code if position == 0 else f"{code}-{position}",
        "name": name,
        "value": value,
        "value_text": None,
        "unit": unit,
        "ref_low": low,
        "ref_high": high,
        "ref_text": None,
        "flag": flag,
    }


async def seed(engine: AsyncEngine, accounts: int, results: int) -> int:
    """Bulk-insert the tables; returns the measured person's account id (the last one)."""
    tables = Base.metadata.tables
    person = accounts
    async with engine.begin() as connection:
        for span in _chunks(accounts):
            await connection.execute(
                insert(tables["accounts"]),
                [
                    {
                        "id": n + 1,
                        "phone": f"+7996{n + 1:07d}",
                        "last_name": "Бенчмарков",
                        "first_name": "Иван",
                        "password_hash": "not-a-hash",
                        "failed_password_attempts": 0,
                        "created_at": NOW - timedelta(days=800),
                    }
                    for n in span
                ],
            )
        others = results - PERSON_RESULTS
        for span in _chunks(others):
            rows, observations = [], []
            for n in span:
                rid = n + 1
                account = 1 + n % (accounts - 1)
                spec = PERSON_TESTS[n % len(PERSON_TESTS)]
                at = NOW - timedelta(hours=(n * 7) % 17_000)
                rows.append(_result_row(rid, account, spec[0], spec[1], at))
                observations.append(_observation(rid, account, at, 0, spec, spec[5]))
            await connection.execute(insert(tables["lab_results"]), rows)
            await connection.execute(insert(tables["lab_observations"]), observations)
        rows, observations = [], []
        for n in range(PERSON_RESULTS):
            rid = others + n + 1
            spec = PERSON_TESTS[n % len(PERSON_TESTS)]
            at = NOW - timedelta(days=12 * (PERSON_RESULTS - n))
            rows.append(_result_row(rid, person, spec[0], spec[1], at))
            for position in range(5):
                value = spec[5] + 0.1 * ((n + position) % 9 - 4)
                observations.append(_observation(rid, person, at, position, spec, value))
        await connection.execute(insert(tables["lab_results"]), rows)
        await connection.execute(insert(tables["lab_observations"]), observations)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for name in ("accounts", "lab_results", "lab_observations"):
                await auto.execute(text(f"VACUUM ANALYZE {name}"))
    else:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    return person


@contextmanager
def _statement_clock(engine: AsyncEngine, into: list[float]) -> Iterator[None]:
    """Append each statement's duration (ms) as the driver runs it."""
    starts: dict[int, float] = {}

    def before(_c: Any, cursor: Any, *_: Any) -> None:
        starts[id(cursor)] = time.perf_counter()

    def after(_c: Any, cursor: Any, *_: Any) -> None:
        began = starts.pop(id(cursor), None)
        if began is not None:
            into.append(1000 * (time.perf_counter() - began))

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(sync, "before_cursor_execute", before)
        event.remove(sync, "after_cursor_execute", after)


Call = Callable[[UnitOfWork], Awaitable[Any]]


async def _measure(
    engine: AsyncEngine, factory: UnitOfWorkFactory, call: Call, reps: int, warmup: int = 5
) -> tuple[list[float], list[float], float]:
    """Per call: the summed statement time, the whole call's time; statements per call."""
    queries: list[float] = []
    calls: list[float] = []
    count = 0
    for n in range(warmup + reps):
        statements: list[float] = []
        with _statement_clock(engine, statements):
            async with factory() as uow:
                started = time.perf_counter()
                await call(uow)
                elapsed = time.perf_counter() - started
                await uow.rollback()
        if n >= warmup:
            queries.append(sum(statements))
            calls.append(1000 * elapsed)
            count += len(statements)
    return queries, calls, count / max(reps, 1)


def _service_calls(person: int, ctx: Any) -> dict[str, Call]:
    """The use cases measured, through the application's own service."""
    from services.core.access import CurrentUser
    from services.record.labs import LabResultsService

    user = CurrentUser(account_id=person, session_id=1, display_name="Иван")
    state: dict[str, Any] = {}

    async def first_page(uow: UnitOfWork) -> Any:
        page = await LabResultsService(uow, ctx).results_page(user, page=0)
        state.setdefault("result_id", page.items[0].id)
        return page

    async def third_page(uow: UnitOfWork) -> Any:
        return await LabResultsService(uow, ctx).results_page(user, page=2)

    async def filtered(uow: UnitOfWork) -> Any:
        return await LabResultsService(uow, ctx).results_page(user, page=0, test="14749-6")

    async def detail(uow: UnitOfWork) -> Any:
        return await LabResultsService(uow, ctx).result(user, state["result_id"])

    async def series(uow: UnitOfWork) -> Any:
        return await LabResultsService(uow, ctx).trend(user, "14749-6")

    return {
        "list": first_page,
        "page3": third_page,
        "filter": filtered,
        "detail": detail,
        "series": series,
    }


async def run_record(backend: Backend, accounts: int, results: int, reps: int) -> RecordResult:
    result = RecordResult(backend.label, accounts, results, reps)
    async with backend.database("record") as url:
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            person = await seed(engine, accounts, results)
            result.seed_seconds = time.perf_counter() - started
            factory = UnitOfWorkFactory(create_session_factory(engine))
            try:
                from bot.app import build_runtime
                from bot.config import Settings

                settings = Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    data_dir=backend.workdir / "record" / "data",
                    database_url=url,
                    redis_url=None,
                    bot_token=None,
                )
                runtime = build_runtime(settings)
                calls = _service_calls(person, runtime.ctx)
            except Exception as exc:  # the application is being changed under the bench
                result.error = f"{type(exc).__name__}: {exc}"
                return result
            try:
                for name, call in calls.items():
                    queries, times, per_call = await _measure(engine, factory, call, reps)
                    result.query_ms[name] = queries
                    result.call_ms[name] = times
                    result.statements[name] = per_call

                async def reference(uow: UnitOfWork) -> Any:
                    stmt = select(LabResult.id, LabResult.test_name).where(LabResult.id == 1)
                    return (await uow.session.execute(stmt)).first()

                result.reference_ms, _, _ = await _measure(engine, factory, reference, reps)
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            finally:
                await runtime.close()
        finally:
            await engine.dispose()
    return result


# -- the chart ----------------------------------------------------------------------


@dataclass
class ChartResult:
    points: int
    render_ms: list[float] = field(default_factory=list)
    empty_ms: list[float] = field(default_factory=list)
    peak_kib: float = 0.0
    png_bytes: int = 0
    error: str | None = None


def _empty_png() -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def run_chart(points: int, reps: int) -> ChartResult:
    result = ChartResult(points)
    try:
        from services.record.charts import demo_series, render_trend

        series = demo_series(points)
        render_trend(series)  # warm-up: fonts, caches
        _empty_png()
        for _ in range(reps):
            started = time.perf_counter()
            png = render_trend(series)
            result.render_ms.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            _empty_png()
            result.empty_ms.append(1000 * (time.perf_counter() - started))
        result.png_bytes = len(png)
        tracemalloc.start()
        render_trend(series)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.peak_kib = peak / 1024
    except Exception as exc:  # the application is being changed under the bench
        result.error = f"{type(exc).__name__}: {exc}"
    return result
