"""aiogram FSM storages: SQL (the default, persistent) and Redis (for several processes).

Both key their records with ``DefaultKeyBuilder(with_destiny=True)``: aiogram-dialog
keeps its stacks and contexts under their own destinies (``aiogd:stack:…``,
``aiogd:context:…``) next to the ordinary FSM record of a chat.

Data is plain JSON on every backend. Whatever is written goes through ``json.dumps``
and back, like :class:`aiogram.fsm.storage.redis.RedisStorage` does, so the SQL and
Redis storages return the same thing: tuples come back as lists, non-string dict keys
as strings, and values JSON cannot hold (datetimes, sets, objects) are refused with
``TypeError`` when written rather than surfacing later. NaN and infinities are refused
too (``ValueError``): PostgreSQL's ``json`` type does not accept them.

The SQL storage pairs with aiogram's ``SimpleEventIsolation`` (one process); the Redis
storage with its own ``RedisEventIsolation`` (see :func:`create_redis_isolation`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord

__all__ = [
    "SqlStorage",
    "create_redis_isolation",
    "create_redis_storage",
    "fsm_key_builder",
    "ping_redis",
]

KEY_MAX_LENGTH = 255  # fsm_records.key is VARCHAR(255)
STATE_MAX_LENGTH = 255  # fsm_records.state is VARCHAR(255)


def fsm_key_builder(prefix: str = "fsm") -> DefaultKeyBuilder:
    """The key builder every storage here uses (aiogram-dialog needs destinies)."""
    return DefaultKeyBuilder(prefix=prefix, with_destiny=True)


def _state_value(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


def _to_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a JSON round trip makes of `data`: a fresh dict of plain JSON values."""
    if not isinstance(data, dict):
        msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
        raise DataNotDictLikeError(msg)
    result: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return result


_shared: ContextVar[AsyncSession | None] = ContextVar("fsm_shared_session", default=None)


@contextmanager
def shared_session(session: AsyncSession) -> Iterator[None]:
    """Within this block, `SqlStorage` works inside `session`'s transaction.

    The per-update middleware opens one around each update, so the conversation
    state is written in the update's own transaction and committed (or rolled
    back) with the change it belongs to. Without it, on SQLite — one lock for
    the whole file — a dialog's state write in the middle of an update would
    wait for the update's transaction, which waits for the handler: a deadlock.
    """
    token = _shared.set(session)
    try:
        yield
    finally:
        _shared.reset(token)


class SqlStorage(BaseStorage):
    """FSM storage in the ``fsm_records`` table, one row per storage key.

    Inside `shared_session` every call runs in that session's transaction, which
    its owner commits. Elsewhere every call runs in its own short transaction
    from `session_factory` and commits at once. Writes are upserts
    (``INSERT … ON CONFLICT DO UPDATE``), so concurrent writers never collide on the
    primary key. A row whose state and data are both empty is deleted, the way
    Redis drops empty keys (aiogram-dialog clears a context on every closed dialog).

    :meth:`update_data` is atomic, so concurrent updates of different fields do not
    lose each other: on PostgreSQL the row is locked (``FOR UPDATE``); on SQLite the
    transaction opens with a write, which holds the database's write lock to the end.

    The engine behind `session_factory` belongs to the caller (the unit of work
    shares it): :meth:`close` leaves it open.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.key_builder = key_builder if key_builder is not None else fsm_key_builder()

    # -- helpers --------------------------------------------------------------

    def _key(self, key: StorageKey) -> str:
        built = self.key_builder.build(key)
        if len(built) > KEY_MAX_LENGTH:
            raise ValueError(f"FSM storage key longer than {KEY_MAX_LENGTH} characters: {built}")
        return built

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        shared = _shared.get()
        if shared is not None:
            yield shared
            return
        async with self.session_factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        shared = _shared.get()
        if shared is not None:
            yield shared
            return
        async with self.session_factory() as session:
            yield session

    async def _upsert(self, session: AsyncSession, key: str, **values: Any) -> None:
        """Insert the row or update the given columns of the existing one."""
        now = datetime.now(UTC)
        row = {"key": key, "state": None, "data": {}, "updated_at": now, **values}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            pg_stmt = postgresql.insert(FsmRecord).values(row)
            pg_set = {name: pg_stmt.excluded[name] for name in (*values, "updated_at")}
            await session.execute(
                pg_stmt.on_conflict_do_update(index_elements=[FsmRecord.key], set_=pg_set)
            )
        elif dialect == "sqlite":
            lite_stmt = sqlite.insert(FsmRecord).values(row)
            lite_set = {name: lite_stmt.excluded[name] for name in (*values, "updated_at")}
            await session.execute(
                lite_stmt.on_conflict_do_update(index_elements=[FsmRecord.key], set_=lite_set)
            )
        else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
            raise NotImplementedError(f"SqlStorage does not support the {dialect} dialect")

    async def _insert_empty(self, session: AsyncSession, key: str) -> None:
        """Make sure the row exists (so it can be locked), leaving an existing one alone."""
        row: dict[str, Any] = {
            "key": key,
            "state": None,
            "data": {},
            "updated_at": datetime.now(UTC),
        }
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            await session.execute(
                postgresql.insert(FsmRecord)
                .values(row)
                .on_conflict_do_nothing(index_elements=[FsmRecord.key])
            )
        elif dialect == "sqlite":
            await session.execute(
                sqlite.insert(FsmRecord).values(row).on_conflict_do_nothing(index_elements=["key"])
            )
        else:  # pragma: no cover
            raise NotImplementedError(f"SqlStorage does not support the {dialect} dialect")

    @staticmethod
    async def _delete_if_empty(session: AsyncSession, key: str) -> None:
        """Drop the row; call only once its data is known to be empty (row held)."""
        await session.execute(
            delete(FsmRecord).where(FsmRecord.key == key, FsmRecord.state.is_(None))
        )

    # -- BaseStorage ----------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        row_key = self._key(key)
        value = _state_value(state)
        if value is not None and len(value) > STATE_MAX_LENGTH:
            raise ValueError(f"FSM state longer than {STATE_MAX_LENGTH} characters: {value}")
        async with self._transaction() as session:
            if value is not None:
                await self._upsert(session, row_key, state=value)
                return
            result = await session.execute(
                update(FsmRecord)
                .where(FsmRecord.key == row_key)
                .values(state=None, updated_at=datetime.now(UTC))
                .returning(FsmRecord.data)
            )
            data = result.scalar_one_or_none()
            if data is not None and not data:
                await self._delete_if_empty(session, row_key)

    async def get_state(self, key: StorageKey) -> str | None:
        row_key = self._key(key)
        async with self._reading() as session:
            stmt = select(FsmRecord.state).where(FsmRecord.key == row_key)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        row_key = self._key(key)
        document = _to_json(data)
        async with self._transaction() as session:
            if document:
                await self._upsert(session, row_key, data=document)
                return
            result = await session.execute(
                update(FsmRecord)
                .where(FsmRecord.key == row_key)
                .values(data={}, updated_at=datetime.now(UTC))
                .returning(FsmRecord.state)
            )
            row = result.first()
            if row is not None and row.state is None:
                await self._delete_if_empty(session, row_key)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row_key = self._key(key)
        async with self._reading() as session:
            stmt = select(FsmRecord.data).where(FsmRecord.key == row_key)
            data = (await session.execute(stmt)).scalar_one_or_none()
        return dict(data) if data else {}

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        row_key = self._key(key)
        patch = _to_json(dict(data))
        if not patch:
            return await self.get_data(key)
        async with self._transaction() as session:
            await self._insert_empty(session, row_key)
            current = (
                await session.execute(
                    select(FsmRecord.data).where(FsmRecord.key == row_key).with_for_update()
                )
            ).scalar_one()
            merged = {**(current or {}), **patch}
            await session.execute(
                update(FsmRecord)
                .where(FsmRecord.key == row_key)
                .values(data=merged, updated_at=datetime.now(UTC))
            )
        return dict(merged)

    async def close(self) -> None:
        """Nothing to release: the engine is the caller's."""


# -- Redis --------------------------------------------------------------------


def create_redis_storage(
    url: str,
    max_connections: int,
    *,
    pool_timeout: float = 10.0,
    prefix: str = "fsm",
) -> RedisStorage:
    """A RedisStorage over a bounded pool that waits for a free connection.

    redis-py's default pool raises "Too many connections" once `max_connections`
    are in use; the blocking pool makes a burst queue for up to `pool_timeout`
    seconds instead. ``storage.close()`` closes the pool.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    redis = Redis.from_pool(pool)
    return RedisStorage(redis, key_builder=fsm_key_builder(prefix))


def create_redis_isolation(storage: RedisStorage) -> RedisEventIsolation:
    """Per-key event locks in Redis, sharing the storage's client and key builder."""
    return storage.create_isolation()


def redis_location(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, without credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port or 6379}"


async def ping_redis(url: str, within: float = 3.0) -> None:
    """Raise ``ConnectionError`` within about `within` seconds unless Redis answers PING."""
    where = redis_location(url)
    client = Redis.from_url(
        url,
        socket_connect_timeout=within,
        socket_timeout=within,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        async with asyncio.timeout(within):
            await cast(Awaitable[bool], client.ping())
    except redis_errors.AuthenticationError as exc:
        raise ConnectionError(f"Redis at {where} refused the credentials") from exc
    except (redis_errors.RedisError, OSError, TimeoutError) as exc:
        raise ConnectionError(f"Redis at {where} does not answer") from exc
    finally:
        await client.aclose()
