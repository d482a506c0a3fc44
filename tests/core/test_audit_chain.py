"""The audit journal's hash chain: appends stay linear, tampering is named, the trigger refuses.

The attacker here has the database's credentials: to change the journal they
first switch the trigger off (the table's owner may), as a real one would.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.cli import main
from services.core import audit
from services.core.access import AccessDenied, CurrentUser, RelativePrincipal
from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.core.journal import JournalService
from services.core.work import in_unit
from storage.db import create_engine, create_session_factory
from storage.migrate import alembic_config, upgrade
from storage.models.base import UTCDateTime
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.conftest import PgServer

KEY = b"audit-key-for-tests-" * 2

# audit_log as revision 0006 left it.
OLD_AUDIT_LOG = sa.table(
    "audit_log",
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("actor_account_id", sa.Integer()),
    sa.column("subject_account_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("details", sa.JSON()),
)


def make_ctx(key: bytes | None = KEY) -> AppContext:
    return AppContext(
        gateways=Gateways(clock=FrozenClock(), sms=ConsoleSms(), mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
        audit_key=key,
    )


async def write_rows(
    work: UnitOfWorkFactory, ctx: AppContext, count: int, subject: int = 7
) -> None:
    for n in range(count):

        async def one(uow: UnitOfWork, n: int = n) -> None:
            await audit.record(
                uow,
                ctx,
                actor=f"account:{subject}",
                action="application.view",
                actor_account_id=subject,
                subject_account_id=subject,
                application_id=n,
            )

        await in_unit(work, one)


async def verify(work: UnitOfWorkFactory, ctx: AppContext) -> audit.ChainReport:
    async with work() as uow:
        return await audit.verify(uow, ctx)


async def as_attacker(work: UnitOfWorkFactory, *statements: str) -> None:
    """Switch the trigger off, change the journal, switch it on again (one transaction)."""
    async with work() as uow:
        session = uow.session
        postgres = session.bind.dialect.name == "postgresql"
        if postgres:
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            await session.execute(text("DROP TRIGGER audit_log_no_update"))
            await session.execute(text("DROP TRIGGER audit_log_no_delete"))
        for statement in statements:
            await session.execute(text(statement))
        if postgres:
            await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        await uow.commit()


@pytest.fixture
async def five(uow_factory: UnitOfWorkFactory) -> AsyncIterator[UnitOfWorkFactory]:
    """A journal of five rows, intact."""
    ctx = make_ctx()
    await write_rows(uow_factory, ctx, 5)
    report = await verify(uow_factory, ctx)
    assert report.problem is None and report.rows == 5
    yield uow_factory


async def test_an_untouched_journal_is_intact_and_numbered_without_gaps(
    uow_factory: UnitOfWorkFactory,
) -> None:
    ctx = make_ctx()
    await write_rows(uow_factory, ctx, 3)
    async with uow_factory() as uow:
        rows = await uow.core.audit.all()
        head = await uow.core.audit.head()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert head is not None and (head.seq, head.hash) == (3, rows[-1].hash)
    assert (await verify(uow_factory, ctx)).intact


async def test_verify_with_another_key_names_the_first_row(five: UnitOfWorkFactory) -> None:
    report = await verify(five, make_ctx(b"another key"))
    assert report.problem is not None and report.problem.startswith("row #1 was changed")


async def test_an_attacker_editing_a_row_is_caught(five: UnitOfWorkFactory) -> None:
    await as_attacker(five, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
    report = await verify(five, make_ctx())
    assert report.problem is not None
    assert report.problem.startswith("row #3 was changed"), report.problem
    assert report.rows == 2


async def test_an_attacker_deleting_a_row_is_caught(five: UnitOfWorkFactory) -> None:
    await as_attacker(five, "DELETE FROM audit_log WHERE seq = 3")
    report = await verify(five, make_ctx())
    assert report.problem is not None
    assert report.problem.startswith("row #3 missing"), report.problem


async def test_an_attacker_deleting_a_row_and_renumbering_is_caught(
    five: UnitOfWorkFactory,
) -> None:
    await as_attacker(
        five,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = -seq WHERE seq > 3",
        "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0",
        "UPDATE audit_head SET seq = 4",
    )
    report = await verify(five, make_ctx())
    assert report.problem is not None
    assert report.problem.startswith("row #3 does not follow row #2"), report.problem


async def test_an_attacker_reordering_rows_is_caught(five: UnitOfWorkFactory) -> None:
    await as_attacker(
        five,
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -3",
    )
    report = await verify(five, make_ctx())
    assert report.problem is not None
    assert report.problem.startswith("row #3 is out of order"), report.problem


async def test_an_attacker_deleting_the_newest_rows_is_caught(five: UnitOfWorkFactory) -> None:
    await as_attacker(five, "DELETE FROM audit_log WHERE seq >= 4")
    report = await verify(five, make_ctx())
    assert report.problem is not None
    assert report.problem.startswith("rows #4–#5 missing: the newest rows were removed")


async def test_the_trigger_refuses_update_and_delete_through_the_apps_connection(
    five: UnitOfWorkFactory,
) -> None:
    for statement in (
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
    ):
        async with five() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement))
    # Through the ORM as well.
    async with five() as uow:
        (row, *_) = await uow.core.audit.all()
        await uow.session.delete(row)
        with pytest.raises(DBAPIError, match="append-only"):
            await uow.commit()
    assert (await verify(five, make_ctx())).rows == 5


@pytest.mark.postgres
async def test_twenty_concurrent_units_keep_one_valid_chain(pg_url: str) -> None:
    engine = create_engine(pg_url)
    work = UnitOfWorkFactory(create_session_factory(engine))
    ctx = make_ctx()
    try:
        start = asyncio.Event()

        async def one(n: int) -> None:
            async def use_case(uow: UnitOfWork) -> None:
                await uow.identity.accounts.get(n)  # the transaction has begun
                await start.wait()
                await audit.record(
                    uow, ctx, actor=f"account:{n}", action="application.view", subject_account_id=n
                )
                await audit.record(
                    uow,
                    ctx,
                    actor=f"account:{n}",
                    action="application.submit",
                    subject_account_id=n,
                )

            await in_unit(work, use_case)

        tasks = [asyncio.create_task(one(n)) for n in range(1, 21)]
        await asyncio.sleep(0.2)
        start.set()
        await asyncio.gather(*tasks)
        report = await verify(work, ctx)
        assert report.problem is None and report.rows == 40
        async with work() as uow:
            rows = await uow.core.audit.all()
        # Each unit's two rows are next to each other: a unit appends at its commit.
        for first, second in zip(rows[::2], rows[1::2], strict=True):
            assert first.subject_account_id == second.subject_account_id
    finally:
        await engine.dispose()


async def test_a_rolled_back_unit_appends_nothing(uow_factory: UnitOfWorkFactory) -> None:
    ctx = make_ctx()
    async with uow_factory() as uow:
        await audit.record(uow, ctx, actor="system", action="session.expire")
        await uow.rollback()
        await audit.record(uow, ctx, actor="system", action="sign_out")
        await uow.commit()
    async with uow_factory() as uow:
        assert [(r.seq, r.action) for r in await uow.core.audit.all()] == [(1, "sign_out")]
    assert (await verify(uow_factory, ctx)).intact


# -- the migration chains what was there -------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_rows_written_before_the_migration_are_chained_by_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.create()
        request.addfinalizer(lambda: server.drop(url))
    upgrade(url, "0006")

    async def old_rows() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.insert(OLD_AUDIT_LOG),
                    [
                        {
                            "at": datetime(2026, 11, 26, 12, 0, n, 1234, tzinfo=UTC),
                            "actor": "account:7",
                            "actor_account_id": 7,
                            "subject_account_id": 7,
                            "action": "application.view",
                            "outcome": "ok",
                            "details": {"application_id": n, "note": "проверка"},
                        }
                        for n in range(4)
                    ],
                )
        finally:
            await engine.dispose()

    asyncio.run(old_rows())
    config = alembic_config(url)
    config.attributes["audit_key"] = KEY
    command.upgrade(config, "head")

    async def check() -> None:
        engine = create_engine(url)
        work = UnitOfWorkFactory(create_session_factory(engine))
        try:
            report = await verify(work, make_ctx())
            assert report.problem is None and report.rows == 4
            await write_rows(work, make_ctx(), 1)
            assert (await verify(work, make_ctx())).rows == 5
            async with work() as uow:
                with pytest.raises(DBAPIError, match="append-only"):
                    await uow.session.execute(text("DELETE FROM audit_log"))
        finally:
            await engine.dispose()

    asyncio.run(check())


# -- `python -m bot audit verify` ------------------------------------------------------


def test_audit_verify_command_says_intact_then_names_the_deleted_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "data" / "emk.sqlite3"
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("AUDIT_KEY", KEY.decode())
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["migrate"]) == 0

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            await write_rows(UnitOfWorkFactory(create_session_factory(engine)), make_ctx(), 3)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "the journal is intact: 3 rows" in capsys.readouterr().out

    with closing(sqlite3.connect(database)) as db:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE seq = 2")
        db.commit()
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "the journal is damaged: row #2 missing" in err


REORDER = (
    "UPDATE audit_log SET seq = -3 WHERE seq = 3",
    "UPDATE audit_log SET seq = 3 WHERE seq = 4",
    "UPDATE audit_log SET seq = 4 WHERE seq = -3",
)
TAMPERINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "edited": (("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3",), "row #3 was changed"),
    "deleted": (("DELETE FROM audit_log WHERE seq = 3",), "row #3 missing"),
    "reordered": (REORDER, "row #3 is out of order"),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_audit_verify_command_names_the_first_edited_deleted_or_reordered_row(
    database_url: str,
    tampering: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m bot audit verify` on SQLite and PostgreSQL, for each kind of tampering."""
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AUDIT_KEY", KEY.decode())
    monkeypatch.delenv("REDIS_URL", raising=False)
    statements, problem = TAMPERINGS[tampering]

    async def on_the_database(change: bool) -> None:
        engine = create_engine(database_url)
        try:
            work = UnitOfWorkFactory(create_session_factory(engine))
            if change:
                await as_attacker(work, *statements)
            else:
                await write_rows(work, make_ctx(), 5)
        finally:
            await engine.dispose()

    asyncio.run(on_the_database(change=False))
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "the journal is intact: 5 rows" in capsys.readouterr().out
    asyncio.run(on_the_database(change=True))
    assert main(["audit", "verify"]) == 1
    assert f"the journal is damaged: {problem}" in capsys.readouterr().err


# -- the journal is the owner's only --------------------------------------------------------


async def test_a_relative_or_another_account_is_refused_the_journal(
    uow_factory: UnitOfWorkFactory,
) -> None:
    ctx = make_ctx()
    await write_rows(uow_factory, ctx, 2, subject=7)
    someone = CurrentUser(account_id=8, session_id=1, display_name="x")
    relative = RelativePrincipal(phone="+79990000009", telegram_user_id=99, account_id=8)
    for principal in (someone, relative):
        with pytest.raises(AccessDenied, match="доступны только владельцу"):
            await in_unit(uow_factory, lambda uow, p=principal: JournalService(uow, ctx).page(p, 7))
    async with uow_factory() as uow:
        refused = [(e.actor, e.outcome) for e in await uow.core.audit.all("journal.view")]
    assert refused == [("account:8", "denied"), ("relative:99", "denied")]
    page = await in_unit(
        uow_factory,
        lambda uow: JournalService(uow, ctx).page(CurrentUser(7, 1, "x"), 7),
    )
    # The owner sees the refused attempts in their journal.
    assert [line.text for line in page.lines] == [
        "Родственник: отказано — просмотр журнала действий",
        "Другой пользователь: отказано — просмотр журнала действий",
        "Вы открыли заявление на ЭМК",
        "Вы открыли заявление на ЭМК",
    ]
