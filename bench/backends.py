"""Where a part of the bench keeps its data: SQLite, or PostgreSQL + Redis.

SQLite: a file in the run's temporary directory. PostgreSQL: a scratch database
``bench_<run>_<part>`` created from template0 on the server of BENCH_DATABASE_URL
and dropped afterwards (no other database is touched). Redis: conversation state
under the key prefix ``bench:<run>:…``, whose keys are deleted at the end.
Every database is migrated to head with the application's Alembic migrations.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiogram.fsm.storage.base import BaseStorage
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.fsm import create_redis_storage, ping_redis
from storage.migrate import upgrade_async

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Connections a RedisStorage may hold (the application's default REDIS_MAX_CONNECTIONS).
REDIS_CONNECTIONS = 50

Kind = Literal["sqlite", "postgres"]


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class Backend:
    kind: Kind
    workdir: Path
    run_id: str
    pg_url: str | None = None
    redis_url: str | None = None
    _created: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL+Redis"

    @property
    def storage_label(self) -> str:
        return "SqlStorage (SQLite)" if self.kind == "sqlite" else "RedisStorage"

    @property
    def redis_prefix(self) -> str:
        return f"bench:{self.run_id}"

    # -- availability ---------------------------------------------------------

    async def unavailable(self) -> str | None:
        """Why this backend cannot run here (None when it can)."""
        if self.kind == "sqlite":
            return None
        assert self.pg_url is not None and self.redis_url is not None
        try:
            await self._admin("SELECT 1")
        except Exception as exc:
            return f"PostgreSQL at {_where(self.pg_url)} does not answer ({type(exc).__name__})"
        try:
            await ping_redis(self.redis_url)
        except ConnectionError as exc:
            return str(exc)
        return None

    async def versions(self) -> str:
        """The servers' versions, for the report."""
        if self.kind == "sqlite":
            return ""
        assert self.pg_url is not None and self.redis_url is not None
        engine = create_async_engine(_pg(self.pg_url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                pg = (await connection.execute(text("SHOW server_version"))).scalar_one()
        finally:
            await engine.dispose()
        client = Redis.from_url(self.redis_url)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return f"PostgreSQL {str(pg).split()[0]} · Redis {info.get('redis_version', '?')}"

    # -- databases ------------------------------------------------------------

    @asynccontextmanager
    async def database(self, part: str) -> AsyncIterator[str]:
        """A fresh database migrated to head, removed afterwards; yields its URL."""
        if self.kind == "sqlite":
            path = self.workdir / f"{part}.sqlite3"
            url = f"sqlite+aiosqlite:///{path}"
            await upgrade_async(url)
            yield url
            return
        assert self.pg_url is not None
        name = f"bench_{self.run_id}_{part}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        self._created.append(name)
        try:
            url = _pg(self.pg_url).set(database=name).render_as_string(hide_password=False)
            await upgrade_async(url)
            yield url
        finally:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.remove(name)

    async def _admin(self, statement: str) -> None:
        assert self.pg_url is not None
        engine = create_async_engine(
            _pg(self.pg_url),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
            connect_args={"timeout": 5},
        )
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    # -- conversation state ---------------------------------------------------

    def fsm_storage(self, name: str) -> BaseStorage | None:
        """The FSM storage for the application: None means its default (SqlStorage, SQLite)."""
        if self.kind == "sqlite":
            return None
        assert self.redis_url is not None
        return create_redis_storage(
            self.redis_url, REDIS_CONNECTIONS, prefix=f"{self.redis_prefix}:{name}"
        )

    async def cleanup(self) -> None:
        """Delete the run's Redis keys and any scratch database left behind."""
        for name in list(self._created):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.remove(name)
        if self.kind != "postgres" or self.redis_url is None:
            return
        client = Redis.from_url(self.redis_url)
        try:
            batch: list[bytes] = []
            async for key in client.scan_iter(match=f"{self.redis_prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await client.delete(*batch)
                    batch = []
            if batch:
                await client.delete(*batch)
        finally:
            await client.aclose()


def _pg(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def _where(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
