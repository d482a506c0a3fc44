"""The hot queries read through their indexes, on SQLite and on PostgreSQL.

Each test seeds a few thousand rows, runs the real repository method while
capturing the SQL it sends (statement and parameters, as the driver gets them),
checks the method's answer, and then asks the database for the plan of exactly
that statement:

* SQLite: ``EXPLAIN QUERY PLAN``, before and after ``ANALYZE`` (a SQLite file
  in production usually has no statistics). The plan must name the index and
  hold no ``SCAN`` of the table (a ``SCAN … USING INDEX`` of the expected
  index is allowed where the query reads an index in order up to a LIMIT) and
  no temporary B-tree (a sort).
* PostgreSQL: ``EXPLAIN`` after ``ANALYZE``, with the planner left free (no
  ``enable_seqscan = off``), for the parameters given — and for the generic
  plan too (``PREPARE`` + ``plan_cache_mode = force_generic_plan``), which is
  what a statement cached by asyncpg may be run with after a few executions.
  The plan must name the index and hold no ``Seq Scan`` and no ``Sort``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import Account, Application, TelegramBinding
from storage.uow import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNTS = 2000
CHAT_BASE = 7_000_000
# Every 10th account has an application in the queue, every 50th (+1) one in work,
# the others a draft; each account also has two decided applications.
QUEUE_EVERY = 10


# -- seeding --------------------------------------------------------------------


def _submitted(n: int) -> datetime:
    return NOW - timedelta(days=30) + timedelta(minutes=n)


def _in_progress_status(n: int) -> str:
    if n % QUEUE_EVERY == 0:
        return "accepted"
    if n % 50 == 1:
        return "in_work"
    return "draft"


async def _seed(uow_factory: UnitOfWorkFactory) -> None:
    """ACCOUNTS accounts, one binding each, three applications each (bulk, Core inserts)."""
    accounts = [
        {
            "id": n,
            "phone": f"+7901{n:07d}",
            "last_name": "Иванов",
            "first_name": "Иван",
            "password_hash": "argon2-hash",
            "failed_password_attempts": 0,
            "created_at": NOW,
        }
        for n in range(1, ACCOUNTS + 1)
    ]
    bindings = [
        {
            "telegram_user_id": CHAT_BASE + n,
            "chat_id": CHAT_BASE + n,
            "account_id": n,
            "created_at": NOW,
        }
        for n in range(1, ACCOUNTS + 1)
    ]
    applications: list[dict[str, Any]] = []
    for n in range(1, ACCOUNTS + 1):
        for k, decision in enumerate(("opened", "rejected")):
            at = _submitted(n) - timedelta(days=60 - k)
            applications.append(
                _application(n, decision, at, at + timedelta(minutes=1), at + timedelta(minutes=6))
            )
        status = _in_progress_status(n)
        submitted = None if status == "draft" else _submitted(n)
        started = _submitted(n) + timedelta(minutes=1) if status == "in_work" else None
        applications.append(_application(n, status, submitted, started, None))
    async with uow_factory() as uow:
        await uow.session.execute(insert(Account), accounts)
        await uow.session.execute(insert(TelegramBinding), bindings)
        await uow.session.execute(insert(Application), applications)
        await uow.commit()
    async with uow_factory() as uow:
        connection = await uow.session.connection()
        if connection.dialect.name == "postgresql":
            # What autovacuum does on a live database; SQLite is checked without statistics.
            await connection.exec_driver_sql("ANALYZE")
        await uow.commit()


def _application(
    account_id: int,
    status: str,
    submitted_at: datetime | None,
    started_at: datetime | None,
    processed_at: datetime | None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "status": status,
        "revision": 1,
        "last_name": "Иванов",
        "first_name": "Иван",
        "skipped_fields": [],
        "created_at": NOW - timedelta(days=90),
        "updated_at": NOW,
        "submitted_at": submitted_at,
        "processing_started_at": started_at,
        "processed_at": processed_at,
        "lease_until": None,
        "attempt": 0,
    }


@pytest.fixture
async def seeded(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    await _seed(uow_factory)
    return uow_factory


# -- capturing and explaining ----------------------------------------------------

Captured = tuple[str, Any]


@contextmanager
def _capture(uow: UnitOfWork, into: list[Captured]) -> Iterator[None]:
    """Record the SELECT/UPDATE statements sent to the driver (not BEGIN, COMMIT, …)."""
    engine = uow.session.get_bind()
    assert isinstance(engine, Engine)

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            into.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def _run(
    uow_factory: UnitOfWorkFactory, call: Callable[[UnitOfWork], Awaitable[Any]]
) -> tuple[Any, list[Captured]]:
    """Run the repository call in a unit of work (rolled back); its result and statements.

    The result must be plain values: the rollback expires ORM objects.
    """
    statements: list[Captured] = []
    async with uow_factory() as uow:
        with _capture(uow, statements):
            result = await call(uow)
        await uow.rollback()
    assert statements, "the call sent no statement"
    return result, statements


@asynccontextmanager
async def _connection(uow_factory: UnitOfWorkFactory) -> AsyncIterator[AsyncConnection]:
    async with uow_factory() as uow:
        connection = await uow.session.connection()
        yield connection
        await uow.rollback()


async def _sqlite_plan(connection: AsyncConnection, statement: str, parameters: Any) -> list[str]:
    result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    return [str(row[-1]) for row in result.all()]


async def _pg_plans(connection: AsyncConnection, statement: str, parameters: Any) -> dict[str, str]:
    """The plan for these parameters, and the generic plan of the prepared statement."""
    custom = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    plans = {"custom": "\n".join(str(row[0]) for row in custom.all())}
    await connection.exec_driver_sql(f"PREPARE index_check AS {statement}")
    try:
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        args = ", ".join(_pg_literal(value) for value in parameters or ())
        execute = f"EXPLAIN EXECUTE index_check({args})" if args else "EXPLAIN EXECUTE index_check"
        generic = await connection.exec_driver_sql(execute)
        plans["generic"] = "\n".join(str(row[0]) for row in generic.all())
    finally:
        await connection.exec_driver_sql("DEALLOCATE index_check")
    return plans


def _pg_literal(value: Any) -> str:
    """A parameter as an SQL literal, for EXECUTE (the prepared statement types it)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


_FULL_SCAN_SQLITE = re.compile(r"^SCAN (?:TABLE )?(\w+)$")


async def assert_uses_index(
    uow_factory: UnitOfWorkFactory,
    statements: list[Captured],
    table: str,
    index: str,
    *,
    ordered_read: bool = False,
) -> None:
    """Every captured statement on `table` reads it through `index` (or its primary key).

    The first statement must name `index`; a later one (an UPDATE by id after a
    SELECT) may use the primary key instead. ``ordered_read`` allows SQLite to
    read `index` in order from its start (``SCAN … USING INDEX``), which with a
    LIMIT stops at the first match.
    """
    ours = [s for s in statements if re.search(rf"\b{table}\b", s[0])]
    assert ours, f"no statement on {table}: {statements}"
    async with _connection(uow_factory) as connection:
        backend = connection.dialect.name
        for position, (statement, parameters) in enumerate(ours):
            expected = (index,) if position == 0 else (index, f"pk_{table}", "PRIMARY KEY")
            if backend == "sqlite":
                plan = await _sqlite_plan(connection, statement, parameters)
                text = "\n".join(plan)
                assert any(name in text for name in expected), (statement, plan)
                for line in plan:
                    scan = _FULL_SCAN_SQLITE.match(line)
                    assert not scan, f"full scan of {scan.group(1)}: {plan}\n{statement}"
                    if line.startswith("SCAN "):
                        assert ordered_read and f"INDEX {index}" in line, (statement, plan)
                    assert "TEMP B-TREE" not in line, (statement, plan)
            else:
                for kind, text in (await _pg_plans(connection, statement, parameters)).items():
                    assert any(name in text for name in expected), (kind, statement, text)
                    assert "Seq Scan" not in text, (kind, statement, text)
                    assert not re.search(r"\bSort\b", text), (kind, statement, text)


async def check_both_ways(
    uow_factory: UnitOfWorkFactory, statements: list[Captured], table: str, index: str, **kw: Any
) -> None:
    """On SQLite also after ANALYZE: the plan must not depend on having statistics."""
    await assert_uses_index(uow_factory, statements, table, index, **kw)
    async with uow_factory() as uow:
        connection = await uow.session.connection()
        if connection.dialect.name != "sqlite":
            return
        await connection.exec_driver_sql("ANALYZE")
        await uow.commit()
    await assert_uses_index(uow_factory, statements, table, index, **kw)


# -- telegram_bindings -------------------------------------------------------------


async def test_bindings_of_an_account(seeded: UnitOfWorkFactory) -> None:
    account_id = ACCOUNTS // 2

    async def call(uow: UnitOfWork) -> Any:
        return [b.chat_id for b in await uow.identity.bindings.for_account(account_id)]

    chats, statements = await _run(seeded, call)
    assert chats == [CHAT_BASE + account_id]
    await check_both_ways(
        seeded, statements, "telegram_bindings", "ix_telegram_bindings_account_id"
    )


async def test_bindings_of_a_chat(seeded: UnitOfWorkFactory) -> None:
    chat_id = CHAT_BASE + 77

    async def call(uow: UnitOfWork) -> Any:
        return [b.account_id for b in await uow.identity.bindings.by_chat(chat_id)]

    accounts, statements = await _run(seeded, call)
    assert accounts == [77]
    await check_both_ways(seeded, statements, "telegram_bindings", "ix_telegram_bindings_chat_id")


async def test_marking_a_blocked_chat(seeded: UnitOfWorkFactory) -> None:
    chat_id = CHAT_BASE + 1234

    async def call(uow: UnitOfWork) -> Any:
        return await uow.identity.bindings.mark_blocked_by_chat(chat_id, NOW)

    marked, statements = await _run(seeded, call)
    assert marked == 1
    await check_both_ways(seeded, statements, "telegram_bindings", "ix_telegram_bindings_chat_id")


# -- applications ------------------------------------------------------------------


async def test_claim_of_the_next_application(seeded: UnitOfWorkFactory) -> None:
    now = NOW

    async def call(uow: UnitOfWork) -> Any:
        return await uow.enrolment.applications.claim_next(
            ("accepted", "in_work"), now, now + timedelta(minutes=5)
        )

    claimed, statements = await _run(seeded, call)
    async with seeded() as uow:
        application = await uow.enrolment.applications.get(claimed)
        oldest = (
            await uow.session.execute(
                select(Application.id)
                .where(Application.status.in_(["accepted", "in_work"]))
                .order_by(Application.submitted_at, Application.id)
                .limit(1)
            )
        ).scalar_one()
    assert application is not None and application.id == oldest
    await check_both_ways(
        seeded, statements, "applications", "ix_applications_waiting", ordered_read=True
    )


async def test_claim_in_another_order_of_statuses_uses_the_index_too(
    seeded: UnitOfWorkFactory,
) -> None:
    async def call(uow: UnitOfWork) -> Any:
        return await uow.enrolment.applications.claim_next(
            ["in_work", "accepted"], NOW, NOW + timedelta(minutes=5)
        )

    claimed, statements = await _run(seeded, call)
    assert claimed is not None
    await check_both_ways(
        seeded, statements, "applications", "ix_applications_waiting", ordered_read=True
    )


async def test_applications_ahead_in_the_queue(seeded: UnitOfWorkFactory) -> None:
    # The queue holds the accounts QUEUE_EVERY, 2·QUEUE_EVERY, …, submitted in that order.
    account_id = ACCOUNTS // 2
    assert _in_progress_status(account_id) == "accepted"
    async with seeded() as uow:
        mine = await uow.enrolment.applications.in_progress_for(account_id)
    assert mine is not None and mine.submitted_at is not None
    submitted_at, application_id = mine.submitted_at, mine.id

    async def call(uow: UnitOfWork) -> Any:
        return await uow.enrolment.applications.count_ahead(
            "accepted", submitted_at, application_id
        )

    ahead, statements = await _run(seeded, call)
    assert ahead == account_id // QUEUE_EVERY - 1
    await check_both_ways(seeded, statements, "applications", "ix_applications_waiting")


async def test_ties_in_the_queue_are_broken_by_id(uow_factory: UnitOfWorkFactory) -> None:
    at = NOW - timedelta(hours=1)
    async with uow_factory() as uow:
        await uow.session.execute(
            insert(Account),
            [
                {
                    "id": n,
                    "phone": f"+7902{n:07d}",
                    "last_name": "Иванов",
                    "first_name": "Иван",
                    "password_hash": "h",
                    "failed_password_attempts": 0,
                    "created_at": NOW,
                }
                for n in (1, 2, 3)
            ],
        )
        await uow.session.execute(
            insert(Application),
            [
                _application(1, "accepted", at, None, None),
                _application(2, "accepted", at, None, None),
                _application(3, "accepted", at - timedelta(seconds=1), None, None),
            ],
        )
        await uow.commit()
    async with uow_factory() as uow:
        repo = uow.enrolment.applications
        ids = {a.account_id: a.id for a in [await repo.in_progress_for(n) for n in (1, 2, 3)] if a}
        assert await repo.count_ahead("accepted", at, ids[1]) == 1  # only the earlier one
        assert await repo.count_ahead("accepted", at, ids[2]) == 2  # and the tie with a lower id
        assert await repo.count_ahead("accepted", at - timedelta(seconds=1), ids[3]) == 0


async def test_recent_processing_durations(seeded: UnitOfWorkFactory) -> None:
    async def call(uow: UnitOfWork) -> Any:
        return await uow.enrolment.applications.recent_durations(20)

    durations, statements = await _run(seeded, call)
    assert durations == [300.0] * 20
    await check_both_ways(seeded, statements, "applications", "ix_applications_decided")
