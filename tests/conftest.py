"""Shared fixtures: migrated databases, Redis, units of work.

Services come from the environment:

``TEST_DATABASE_URL``
    A PostgreSQL server, e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``.
    Its database is used only for maintenance: the session migrates a template
    database once, and every test gets its own copy (``CREATE DATABASE … TEMPLATE``),
    dropped afterwards. The role needs CREATEDB.
``REDIS_URL``
    e.g. ``redis://127.0.0.1:6379/0``. Tests keep to their own key prefix
    (``redis_prefix``) and delete their keys afterwards; nothing is flushed.

A test needing a service that is not configured is skipped, unless ``CI`` is set
(anything but empty, ``0``, ``false``, ``no``): then it fails, so a CI job cannot
pass by skipping. A service that is configured but does not answer always fails.

Fixtures:

``sqlite_url``       a fresh SQLite file migrated to head (a copy of a session template)
``pg_url``           a fresh PostgreSQL database migrated to head
``database_url``     both of the above in turn (ids ``sqlite`` and ``postgres``)
``pg_server``        the PostgreSQL server, to create and drop databases of one's own
``uow_factory``      a ``UnitOfWorkFactory`` over ``database_url`` (engine disposed after)
``sqlite_uow_factory``  the same over ``sqlite_url`` only
``redis_url``        the Redis URL (checked with PING once per session)
``redis_prefix``     a key prefix unique to the test; its keys are deleted afterwards
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import create_engine, create_session_factory
from storage.fsm import ping_redis
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory

# Fixtures that several suites use: services with a frozen clock, and the whole bot.
pytest_plugins = [
    "tests.support.services",
    "tests.support.bot",
    "tests.support.labs",
    "tests.support.extracts",
]

T = TypeVar("T")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    """Skip for lack of a service, or fail when running under CI."""
    if _in_ci():
        pytest.fail(f"{reason} (CI is set: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def _off_loop(func: Callable[..., T], *args: Any) -> T:
    """Run `func` in a worker thread: safe whether or not an event loop is running here.

    Alembic's env.py and the PostgreSQL admin helpers call ``asyncio.run``.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args).result()


def _run(coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return _off_loop(lambda: asyncio.run(coro_factory()))


# -- SQLite -------------------------------------------------------------------


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _off_loop(upgrade, _sqlite_url(path))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "test.db"
    # The backup API copies a consistent image whatever is left in the WAL.
    with closing(sqlite3.connect(sqlite_template)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return _sqlite_url(target)


# -- PostgreSQL ---------------------------------------------------------------


class PgServer:
    """The server behind TEST_DATABASE_URL: creates and drops whole databases."""

    def __init__(self, url: URL) -> None:
        self.url = url

    def url_for(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> None:
        engine = create_async_engine(
            self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
        )
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    def check(self) -> None:
        _run(lambda: asyncio.wait_for(self._admin("SELECT 1"), 10))

    def create(self, template: str | None = None) -> str:
        """A new, uniquely named database (empty, or a copy of `template`); returns its URL.

        Empty ones copy template0, which nobody connects to (template1 may be in use).
        """
        name = f"emk_test_{uuid.uuid4().hex[:16]}"
        source = template or "template0"
        _run(lambda: self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        _run(lambda: self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        _unavailable("TEST_DATABASE_URL is not set (PostgreSQL tests need a server)")
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        pytest.fail(
            f"TEST_DATABASE_URL must be a PostgreSQL URL, got {url.drivername}", pytrace=False
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    server = PgServer(url)
    try:
        server.check()
    except Exception as exc:
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        pytest.fail(
            f"TEST_DATABASE_URL is set but PostgreSQL at {where} does not answer: {exc!r}",
            pytrace=False,
        )
    return server


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> Iterator[str]:
    """Name of a database migrated to head once per session; tests get copies."""
    url = pg_server.create()
    _off_loop(upgrade, url)
    yield str(make_url(url).database)
    pg_server.drop(url)


@pytest.fixture
def pg_url(pg_server: PgServer, pg_template: str) -> Iterator[str]:
    url = pg_server.create(template=pg_template)
    yield url
    pg_server.drop(url)


# -- Both ---------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database: the test runs once on SQLite, once on PostgreSQL."""
    name = {"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param]
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url)
    try:
        yield UnitOfWorkFactory(create_session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite_uow_factory(sqlite_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(sqlite_url)
    try:
        yield UnitOfWorkFactory(create_session_factory(engine))
    finally:
        await engine.dispose()


# -- Redis --------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        _unavailable("REDIS_URL is not set (Redis tests need a server)")
    try:
        _run(lambda: ping_redis(url))
    except ConnectionError as exc:
        pytest.fail(f"REDIS_URL is set but {exc}", pytrace=False)
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}"
    yield prefix
    with closing(redis.Redis.from_url(redis_url)) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
