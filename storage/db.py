"""Engine and session factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


def create_engine(
    url: str,
    *,
    echo: bool = False,
    connect_timeout: float | None = None,
    command_timeout: float | None = None,
    pool_timeout: float | None = None,
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout.

    On PostgreSQL, for the running bot (``None`` keeps the driver's default, as
    migrations want): `connect_timeout` bounds opening a connection (asyncpg's
    ``timeout``), `command_timeout` every statement (asyncpg's ``command_timeout``;
    a server that stops answering raises ``TimeoutError`` instead of hanging) and
    `pool_timeout` the wait for a free pooled connection. SQLite ignores them: its
    file is local and its busy timeout governs the waits.
    """
    parsed = make_url(url)
    # Statement parameters are personal data (names, СНИЛС, policy numbers): keep
    # them out of error messages and logs.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        connect_args: dict[str, Any] = {}
        if connect_timeout is not None:
            connect_args["timeout"] = connect_timeout
        if command_timeout is not None:
            connect_args["command_timeout"] = command_timeout
        if connect_args:
            kwargs["connect_args"] = connect_args
        if pool_timeout is not None:
            kwargs["pool_timeout"] = pool_timeout
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    # The sqlite3 driver opens a transaction only at the first write, so reads
    # before it would see other connections' commits (lost updates). Take over:
    # no implicit transactions, and BEGIN IMMEDIATE at the start of each one, so a
    # transaction that reads and then writes never fails half-way because another
    # connection wrote in between ("database is locked" on a stale snapshot):
    # writers queue for the lock up to the busy timeout instead. SQLite is the
    # single-process set-up (the demo, small installations). No transaction is
    # ever open around another (a unit of work per use case; the conversation
    # state commits on its own), so an update never waits for itself.
    # PostgreSQL is for anything bigger.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
