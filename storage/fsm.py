"""aiogram FSM storages: SQL (the default, persistent) and Redis (for several processes).

Both key their records with ``DefaultKeyBuilder(with_destiny=True)``: aiogram-dialog
keeps its stacks and contexts under their own destinies (``aiogd:stack:…``,
``aiogd:context:…``) next to the ordinary FSM record of a chat. Every record of one
*conversation* — one chat, thread and user, whatever the destiny — shares the prefix
of its key (``fsm:{chat}:{user}:`` …; the destiny comes last): `SqlStorage` keeps one
row per record, the Redis storage one hash per conversation (see
:class:`RedisConversationStorage`).

Data is plain JSON on every backend. Whatever is written goes through ``json.dumps``
and back, like :class:`aiogram.fsm.storage.redis.RedisStorage` does, so the SQL and
Redis storages return the same thing: tuples come back as lists, non-string dict keys
as strings, and values JSON cannot hold (datetimes, sets, objects) are refused with
``TypeError`` when written rather than surfacing later. The SQL storage refuses NaN
and infinities too (``ValueError``): PostgreSQL's ``json`` type does not accept them.

Update scopes
-------------

An update costs aiogram and aiogram-dialog three reads (the FSM state, the dialog
stack, its context) and up to three writes. Inside ``storage.update_scope(key)`` the
first access to a record of `key`'s conversation loads *all* of its records at once
(SQL: one range scan of the primary key; Redis: one ``HGETALL``), later reads come
from that snapshot, writes are buffered (and seen by later reads), and the scope's
exit writes what changed in one transaction (SQL) or one ``MULTI`` pipeline (Redis),
or nothing if nothing changed. Outside a scope every call goes to the backend at
once, as before.

A snapshot is only as good as the lock around it: nobody else may write the
conversation while the scope is open. That is what :func:`conversation_isolation`
provides — wrap the event isolation with it and every update holds one lock per
conversation, with the scope inside it (see there why the scope cannot simply be
opened by an update middleware).

The SQL storage pairs with aiogram's ``SimpleEventIsolation`` (one process); the Redis
storage with its own ``RedisEventIsolation`` (see :func:`create_redis_isolation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    DEFAULT_DESTINY,
    BaseEventIsolation,
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
    "REDIS_OUTAGE_ERRORS",
    "ConversationIsolation",
    "RedisConversationStorage",
    "ScopedStorage",
    "SqlStorage",
    "conversation_isolation",
    "create_redis_isolation",
    "create_redis_storage",
    "fsm_key_builder",
    "ping_redis",
]

log = logging.getLogger(__name__)

# What the Redis storage and isolation raise when the server is down, paused or
# unreachable (a refused or broken connection, a connect or read timeout, no free
# pooled connection in time): the conversation state is unavailable, not wrong.
REDIS_OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)

KEY_MAX_LENGTH = 255  # fsm_records.key is VARCHAR(255)
STATE_MAX_LENGTH = 255  # fsm_records.state is VARCHAR(255)
EMPTY_DATA = "{}"  # the JSON text of no data


def fsm_key_builder(prefix: str = "fsm") -> DefaultKeyBuilder:
    """The key builder every storage here uses (aiogram-dialog needs destinies)."""
    return DefaultKeyBuilder(prefix=prefix, with_destiny=True)


def _state_value(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


def _check_dict(data: object) -> None:
    if not isinstance(data, dict):
        msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
        raise DataNotDictLikeError(msg)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


# -- update scopes --------------------------------------------------------------


class _Record(NamedTuple):
    """One record as a scope holds it: the state, and the data as JSON text."""

    state: str | None
    data: str  # EMPTY_DATA when there is none


_ABSENT = _Record(None, EMPTY_DATA)  # a record that is not stored


class _Scope:
    """The snapshot of one conversation and the writes buffered over it."""

    __slots__ = ("conversation", "loaded", "pending")

    def __init__(self, conversation: str) -> None:
        self.conversation = conversation  # the key prefix of its records
        self.loaded: dict[str, _Record] | None = None  # as stored, once read
        self.pending: dict[str, _Record] = {}  # written in the scope

    def get(self, row_key: str) -> _Record:
        assert self.loaded is not None
        found = self.pending.get(row_key)
        return found if found is not None else self.loaded.get(row_key, _ABSENT)

    def changes(self) -> dict[str, tuple[_Record, _Record]]:
        """Every record written with a different value: key -> (stored, new)."""
        if self.loaded is None:
            return {}
        changed: dict[str, tuple[_Record, _Record]] = {}
        for row_key, record in self.pending.items():
            stored = self.loaded.get(row_key, _ABSENT)
            if record != stored:
                changed[row_key] = (stored, record)
        return changed


class ScopedStorage(BaseStorage):
    """An FSM storage with update scopes (see the module's docstring).

    Subclasses implement the direct operations (``_get_state`` … ``_update_data``,
    used outside scopes) and loading and writing a whole conversation.

    A scope belongs to the asyncio task that opened it: other tasks — including
    ones started inside it, which inherit its context variables — do not see it
    and go straight to the backend.
    """

    key_builder: KeyBuilder
    _allow_nan = False

    def _init_scopes(self) -> None:
        self._scopes: WeakKeyDictionary[asyncio.Task[Any], dict[str, _Scope]] = WeakKeyDictionary()

    # -- keys -------------------------------------------------------------------

    @property
    def supports_scopes(self) -> bool:
        builder = self.key_builder
        return isinstance(builder, DefaultKeyBuilder) and builder.with_destiny

    def conversation_of(self, key: StorageKey) -> str:
        """The key prefix all records of `key`'s conversation share (ends with ``:``)."""
        if not self.supports_scopes:
            raise TypeError("Update scopes need DefaultKeyBuilder(with_destiny=True)")
        built = self.key_builder.build(key)
        return built[: len(built) - len(key.destiny)]

    def _row_key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    def _check_state(self, value: str | None) -> None:
        """Refuse a state the backend cannot store."""

    def _encode(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        """`data` as a fresh dict of JSON values, and as JSON text."""
        _check_dict(data)
        text = json.dumps(data, allow_nan=self._allow_nan)
        document: dict[str, Any] = json.loads(text)
        return document, text

    # -- scopes -----------------------------------------------------------------

    @asynccontextmanager
    async def update_scope(self, key: StorageKey) -> AsyncIterator[None]:
        """Serve `key`'s conversation from one snapshot; write its changes on exit.

        Only keys of this conversation (the same chat, thread and user; any destiny)
        are scoped; others go to the backend as usual. Entering the scope of a
        conversation that is already in scope in this task joins it.

        If the block raises, what it wrote is still saved (before the exception
        goes on), as it was when every write went out at once: aiogram-dialog
        itself writes nothing when a handler fails, and a state that a handler
        set before failing has always stayed set. Should that save fail as well,
        it is logged and the block's own exception is the one raised.
        """
        conversation = self.conversation_of(key)
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under asyncio
            raise RuntimeError("update_scope must run inside an asyncio task")
        scopes = self._scopes.setdefault(task, {})
        if conversation in scopes:
            yield
            return
        scope = scopes[conversation] = _Scope(conversation)
        try:
            yield
        except GeneratorExit:
            self._end_scope(task, conversation)
            raise
        except BaseException:
            self._end_scope(task, conversation)
            try:
                await self._save_scope(scope)
            except Exception:
                log.exception("Could not save the conversation state of a failed update")
            raise
        self._end_scope(task, conversation)
        await self._save_scope(scope)

    def _end_scope(self, task: asyncio.Task[Any], conversation: str) -> None:
        scopes = self._scopes.get(task)
        if scopes is not None:
            scopes.pop(conversation, None)
            if not scopes:
                del self._scopes[task]

    def _scope_for(self, key: StorageKey) -> _Scope | None:
        task = asyncio.current_task()
        scopes = self._scopes.get(task) if task is not None else None
        if not scopes:
            return None
        return scopes.get(self.conversation_of(key))

    async def _loaded(self, scope: _Scope) -> _Scope:
        if scope.loaded is None:
            scope.loaded = await self._load_conversation(scope.conversation)
        return scope

    async def _save_scope(self, scope: _Scope) -> None:
        changes = scope.changes()
        if not changes:
            return
        await self._write_conversation(scope.conversation, changes)
        assert scope.loaded is not None
        for row_key, (_, record) in changes.items():
            scope.loaded[row_key] = record
        scope.pending.clear()

    @abstractmethod
    async def _load_conversation(self, conversation: str) -> dict[str, _Record]:
        """Every stored record whose key starts with `conversation`, in one request."""

    @abstractmethod
    async def _write_conversation(
        self, conversation: str, changes: dict[str, tuple[_Record, _Record]]
    ) -> None:
        """Store the new records (an absent one is deleted) in one atomic request."""

    # -- direct operations (outside scopes) ---------------------------------------

    @abstractmethod
    async def _set_state(self, key: StorageKey, row_key: str, value: str | None) -> None: ...

    @abstractmethod
    async def _get_state(self, key: StorageKey, row_key: str) -> str | None: ...

    @abstractmethod
    async def _set_data(
        self, key: StorageKey, row_key: str, document: dict[str, Any], text: str
    ) -> None: ...

    @abstractmethod
    async def _get_data(self, key: StorageKey, row_key: str) -> dict[str, Any]: ...

    @abstractmethod
    async def _update_data(
        self, key: StorageKey, row_key: str, patch: dict[str, Any]
    ) -> dict[str, Any]: ...

    # -- BaseStorage ----------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        row_key = self._row_key(key)
        value = _state_value(state)
        self._check_state(value)
        scope = self._scope_for(key)
        if scope is None:
            await self._set_state(key, row_key, value)
            return
        record = (await self._loaded(scope)).get(row_key)
        scope.pending[row_key] = record._replace(state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        row_key = self._row_key(key)
        scope = self._scope_for(key)
        if scope is None:
            return await self._get_state(key, row_key)
        return (await self._loaded(scope)).get(row_key).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        row_key = self._row_key(key)
        document, text = self._encode(data)
        scope = self._scope_for(key)
        if scope is None:
            await self._set_data(key, row_key, document, text)
            return
        record = (await self._loaded(scope)).get(row_key)
        scope.pending[row_key] = record._replace(data=text if document else EMPTY_DATA)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row_key = self._row_key(key)
        scope = self._scope_for(key)
        if scope is None:
            return await self._get_data(key, row_key)
        data: dict[str, Any] = json.loads((await self._loaded(scope)).get(row_key).data)
        return data

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `data` into the stored data; atomic outside a scope.

        Inside a scope the merge works on the snapshot: the conversation's lock
        (see :func:`conversation_isolation`) keeps other writers out.
        """
        row_key = self._row_key(key)
        patch, _ = self._encode(dict(data))
        if not patch:
            return await self.get_data(key)
        scope = self._scope_for(key)
        if scope is None:
            return await self._update_data(key, row_key, patch)
        record = (await self._loaded(scope)).get(row_key)
        merged: dict[str, Any] = {**json.loads(record.data), **patch}
        scope.pending[row_key] = record._replace(data=json.dumps(merged, allow_nan=self._allow_nan))
        return merged


# -- SQL ----------------------------------------------------------------------------


class SqlStorage(ScopedStorage):
    """FSM storage in the ``fsm_records`` table, one row per storage key.

    Every call runs in its own short transaction from `session_factory` and
    commits at once (no use case's transaction is ever open around it). Writes are upserts
    (``INSERT … ON CONFLICT DO UPDATE``), so concurrent writers never collide on the
    primary key. A row whose state and data are both empty is deleted, the way
    Redis drops empty keys (aiogram-dialog clears a context on every closed dialog).

    :meth:`update_data` is atomic, so concurrent updates of different fields do not
    lose each other: on PostgreSQL the row is locked (``FOR UPDATE``); on SQLite the
    transaction opens with a write, which holds the database's write lock to the end.

    In an update scope the conversation is read with one range scan of the primary
    key (``key >= prefix AND key < prefix_upper``) and its changes are written with
    at most one multi-row upsert and one ``DELETE`` in one transaction. On
    PostgreSQL the range compares with ``COLLATE "C"``: under a linguistic collation
    (``en_US.UTF-8``, the ``postgres`` image's default, or ICU) a range of strings is
    not a prefix, so the plain comparison would miss records. The primary key index
    serves that range only if ``fsm_records.key`` itself is collated ``"C"``.

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
        self._init_scopes()

    # -- helpers --------------------------------------------------------------

    def _row_key(self, key: StorageKey) -> str:
        built = self.key_builder.build(key)
        if len(built) > KEY_MAX_LENGTH:
            raise ValueError(f"FSM storage key longer than {KEY_MAX_LENGTH} characters: {built}")
        return built

    def _check_state(self, value: str | None) -> None:
        if value is not None and len(value) > STATE_MAX_LENGTH:
            raise ValueError(f"FSM state longer than {STATE_MAX_LENGTH} characters: {value}")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.session_factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        async with self.session_factory() as session:
            yield session

    @staticmethod
    def _insert(session: AsyncSession) -> Any:
        """The dialect's INSERT (with ``ON CONFLICT``) for this session's database."""
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert
        if dialect == "sqlite":
            return sqlite.insert
        raise NotImplementedError(  # pragma: no cover - SQLite and PostgreSQL only
            f"SqlStorage does not support the {dialect} dialect"
        )

    async def _upsert(self, session: AsyncSession, key: str, **values: Any) -> None:
        """Insert the row or update the given columns of the existing one."""
        now = datetime.now(UTC)
        row = {"key": key, "state": None, "data": {}, "updated_at": now, **values}
        stmt = self._insert(session)(FsmRecord).values(row)
        excluded = {name: stmt.excluded[name] for name in (*values, "updated_at")}
        await session.execute(
            stmt.on_conflict_do_update(index_elements=[FsmRecord.key], set_=excluded)
        )

    async def _insert_empty(self, session: AsyncSession, key: str) -> None:
        """Make sure the row exists (so it can be locked), leaving an existing one alone."""
        row: dict[str, Any] = {
            "key": key,
            "state": None,
            "data": {},
            "updated_at": datetime.now(UTC),
        }
        stmt = self._insert(session)(FsmRecord).values(row)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=[FsmRecord.key]))

    @staticmethod
    async def _delete_if_empty(session: AsyncSession, key: str) -> None:
        """Drop the row; call only once its data is known to be empty (row held)."""
        await session.execute(
            delete(FsmRecord).where(FsmRecord.key == key, FsmRecord.state.is_(None))
        )

    # -- a whole conversation ---------------------------------------------------

    def conversation_query(self, conversation: str, dialect: str) -> Any:
        """The range scan that reads every row whose key starts with `conversation`."""
        upper = conversation[:-1] + chr(ord(conversation[-1]) + 1)
        column: Any = FsmRecord.key.collate("C") if dialect == "postgresql" else FsmRecord.key
        return select(FsmRecord.key, FsmRecord.state, FsmRecord.data).where(
            column >= conversation, column < upper
        )

    async def _load_conversation(self, conversation: str) -> dict[str, _Record]:
        async with self._reading() as session:
            dialect = session.get_bind().dialect.name
            rows = (await session.execute(self.conversation_query(conversation, dialect))).all()
        return {
            row.key: _Record(row.state, json.dumps(row.data) if row.data else EMPTY_DATA)
            for row in rows
        }

    async def _write_conversation(
        self, conversation: str, changes: dict[str, tuple[_Record, _Record]]
    ) -> None:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        gone: list[str] = []
        for row_key, (_, record) in changes.items():
            if record == _ABSENT:
                gone.append(row_key)  # only a stored record can change to absent
            else:
                data = json.loads(record.data)
                rows.append(
                    {"key": row_key, "state": record.state, "data": data, "updated_at": now}
                )
        async with self._transaction() as session:
            if rows:
                stmt = self._insert(session)(FsmRecord).values(rows)
                excluded = {name: stmt.excluded[name] for name in ("state", "data", "updated_at")}
                await session.execute(
                    stmt.on_conflict_do_update(index_elements=[FsmRecord.key], set_=excluded)
                )
            if gone:
                await session.execute(delete(FsmRecord).where(FsmRecord.key.in_(gone)))

    # -- direct operations ------------------------------------------------------

    async def _set_state(self, key: StorageKey, row_key: str, value: str | None) -> None:
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

    async def _get_state(self, key: StorageKey, row_key: str) -> str | None:
        async with self._reading() as session:
            stmt = select(FsmRecord.state).where(FsmRecord.key == row_key)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def _set_data(
        self, key: StorageKey, row_key: str, document: dict[str, Any], text: str
    ) -> None:
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

    async def _get_data(self, key: StorageKey, row_key: str) -> dict[str, Any]:
        async with self._reading() as session:
            stmt = select(FsmRecord.data).where(FsmRecord.key == row_key)
            data = (await session.execute(stmt)).scalar_one_or_none()
        return dict(data) if data else {}

    async def _update_data(
        self, key: StorageKey, row_key: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
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


# -- Redis --------------------------------------------------------------------------


def _milliseconds(ttl: timedelta | int | None) -> int | None:
    """`ttl` (a timedelta, or whole seconds) in milliseconds; None: never expire."""
    if ttl is None:
        return None
    millis = int(ttl.total_seconds() * 1000) if isinstance(ttl, timedelta) else int(ttl) * 1000
    if millis <= 0:
        raise ValueError(f"The conversation TTL must be positive, got {ttl!r}")
    return millis


class RedisConversationStorage(ScopedStorage, RedisStorage):
    """aiogram's RedisStorage, keeping each conversation in one hash.

    The hash is named after the conversation (``fsm:{chat}:{user}``; with a thread
    ``fsm:{chat}:{thread}:{user}``) and holds ``state:{destiny}`` and
    ``data:{destiny}`` fields (the data as JSON), so an update scope reads the whole
    conversation with one ``HGETALL`` and writes it with one ``MULTI`` … ``EXEC``
    pipeline. Separate keys per record (aiogram's own layout) would need a ``SCAN``
    to find the contexts of a conversation — their ids are only known from the
    stack — so no single ``MGET`` could read stack and context together.

    With a `ttl`, the hash expires after that long without an update: every write
    and every scope's read sets ``PEXPIRE`` (in the same round trip), so an ongoing
    conversation never expires, not even through updates that change nothing.

    :meth:`update_data` outside a scope is atomic (``WATCH`` … ``MULTI``), like
    `SqlStorage`'s.
    """

    _allow_nan = True  # what aiogram's json.dumps writes, as before

    def __init__(
        self,
        redis: Redis,
        key_builder: KeyBuilder | None = None,
        ttl: timedelta | int | None = None,
    ) -> None:
        builder = key_builder if key_builder is not None else fsm_key_builder()
        if not (isinstance(builder, DefaultKeyBuilder) and builder.with_destiny):
            raise TypeError("RedisConversationStorage needs DefaultKeyBuilder(with_destiny=True)")
        super().__init__(redis, key_builder=builder)
        self.ttl_ms = _milliseconds(ttl)
        self._init_scopes()

    def hash_name(self, key: StorageKey) -> str:
        """The Redis key of the hash holding `key`'s conversation."""
        return self._hash(self.conversation_of(key))

    def _hash(self, conversation: str) -> str:
        separator = cast(DefaultKeyBuilder, self.key_builder).separator
        return conversation[: -len(separator)] if conversation.endswith(separator) else conversation

    def _place(self, key: StorageKey, part: str) -> tuple[str, str]:
        return self.hash_name(key), f"{part}:{key.destiny}"

    async def _write_field(self, name: str, field: str, value: str | None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if value is None:
                pipe.hdel(name, field)
            else:
                pipe.hset(name, field, value)
            if self.ttl_ms is not None:
                pipe.pexpire(name, self.ttl_ms)
            await pipe.execute()

    async def _read_field(self, name: str, field: str) -> str | None:
        value = await cast(Awaitable[bytes | str | None], self.redis.hget(name, field))
        return None if value is None else _text(value)

    # -- a whole conversation ---------------------------------------------------

    async def _load_conversation(self, conversation: str) -> dict[str, _Record]:
        name = self._hash(conversation)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(name)
            if self.ttl_ms is not None:
                pipe.pexpire(name, self.ttl_ms)  # reading is activity too
            fields: dict[bytes | str, bytes | str] = (await pipe.execute())[0]
        states: dict[str, str] = {}
        datas: dict[str, str] = {}
        for raw_field, raw_value in fields.items():
            part, _, destiny = _text(raw_field).partition(":")
            (states if part == "state" else datas)[destiny] = _text(raw_value)
        return {
            conversation + destiny: _Record(states.get(destiny), datas.get(destiny, EMPTY_DATA))
            for destiny in states.keys() | datas.keys()
        }

    async def _write_conversation(
        self, conversation: str, changes: dict[str, tuple[_Record, _Record]]
    ) -> None:
        name = self._hash(conversation)
        values: dict[str, str] = {}
        removed: list[str] = []
        for row_key, (stored, record) in changes.items():
            destiny = row_key[len(conversation) :]
            if record.state != stored.state:
                if record.state is None:
                    removed.append(f"state:{destiny}")
                else:
                    values[f"state:{destiny}"] = record.state
            if record.data != stored.data:
                if record.data == EMPTY_DATA:
                    removed.append(f"data:{destiny}")
                else:
                    values[f"data:{destiny}"] = record.data
        async with self.redis.pipeline(transaction=True) as pipe:
            if values:
                pipe.hset(name, mapping=values)
            if removed:
                pipe.hdel(name, *removed)
            if self.ttl_ms is not None:
                pipe.pexpire(name, self.ttl_ms)
            await pipe.execute()

    # -- direct operations ------------------------------------------------------

    async def _set_state(self, key: StorageKey, row_key: str, value: str | None) -> None:
        await self._write_field(*self._place(key, "state"), value)

    async def _get_state(self, key: StorageKey, row_key: str) -> str | None:
        return await self._read_field(*self._place(key, "state"))

    async def _set_data(
        self, key: StorageKey, row_key: str, document: dict[str, Any], text: str
    ) -> None:
        await self._write_field(*self._place(key, "data"), text if document else None)

    async def _get_data(self, key: StorageKey, row_key: str) -> dict[str, Any]:
        text = await self._read_field(*self._place(key, "data"))
        data: dict[str, Any] = json.loads(text) if text is not None else {}
        return data

    async def _update_data(
        self, key: StorageKey, row_key: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        name, field = self._place(key, "data")
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(name)
                    raw = await cast(Awaitable[bytes | str | None], pipe.hget(name, field))
                    merged: dict[str, Any] = {
                        **(json.loads(_text(raw)) if raw is not None else {}),
                        **patch,
                    }
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(name, field, json.dumps(merged, allow_nan=self._allow_nan))
                    if self.ttl_ms is not None:
                        pipe.pexpire(name, self.ttl_ms)
                    await pipe.execute()
                    return merged
                except redis_errors.WatchError:
                    continue  # written meanwhile: read it again


def create_redis_storage(
    url: str,
    max_connections: int,
    *,
    ttl: timedelta | int | None = None,
    pool_timeout: float = 10.0,
    socket_timeout: float | None = 3.0,
    connect_timeout: float | None = 3.0,
    prefix: str = "fsm",
) -> RedisConversationStorage:
    """A Redis FSM storage over a bounded pool that waits for a free connection.

    redis-py's default pool raises "Too many connections" once `max_connections`
    are in use; the blocking pool makes a burst queue for up to `pool_timeout`
    seconds instead. ``storage.close()`` closes the pool.

    `ttl` (a timedelta, or whole seconds) makes a conversation expire after that
    long without an update; without it conversations never expire.

    Outages: connecting gives up after `connect_timeout` seconds and a command
    whose answer does not come (a paused or unreachable server) after
    `socket_timeout`; both raise one of :data:`REDIS_OUTAGE_ERRORS`. A broken
    connection is retried once at once (the first command after a restart meets
    the old, dead socket), a timeout never: so an update learns of an outage
    within about `socket_timeout` seconds rather than hanging.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_connect_timeout=connect_timeout,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
        health_check_interval=30,
    )
    redis = Redis.from_pool(pool)
    return RedisConversationStorage(redis, key_builder=fsm_key_builder(prefix), ttl=ttl)


# How long a conversation's lock in Redis lives unless its holder renews it. A live
# update renews it every third of this; a lock whose holder died, or whose SET reached
# a paused Redis after the client had given up, is gone within this many seconds.
CONVERSATION_LOCK_SECONDS = 10.0


class RenewedRedisIsolation(RedisEventIsolation):
    """aiogram's Redis event locks, short-lived and renewed while the update runs.

    aiogram's own locks live 60 s. After an outage, a lock that nobody will
    release (an update that timed out while taking or releasing it; a SET that a
    paused Redis ran after it woke up) kept that person's chat waiting up to a
    minute. Here a lock lives ``ttl`` seconds and the holder extends it while it
    works, so a long update (an upload, a signature) keeps it, and a lost one
    frees the chat within ``ttl``.
    """

    def __init__(self, storage: RedisStorage, ttl: float = CONVERSATION_LOCK_SECONDS) -> None:
        super().__init__(redis=storage.redis, key_builder=storage.key_builder)
        self.ttl = ttl

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        name = self.key_builder.build(key, "lock")
        lock = self.redis.lock(name=name, timeout=self.ttl)
        await lock.acquire()
        renewal = asyncio.create_task(self._renew(lock))
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            try:
                await lock.release()
            except (redis_errors.RedisError, OSError, TimeoutError):
                # Redis is away or the lock expired meanwhile: it expires by itself.
                log.debug("conversation lock not released; it expires within %s s", self.ttl)

    async def _renew(self, lock: Any) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await lock.reacquire()
            except (redis_errors.RedisError, OSError, TimeoutError):
                return


def create_redis_isolation(storage: RedisStorage) -> RedisEventIsolation:
    """Per-conversation locks in Redis (renewed while held), sharing the storage's client."""
    return RenewedRedisIsolation(storage)


# -- one lock per conversation ------------------------------------------------------


class ConversationIsolation(BaseEventIsolation):
    """Event isolation with one lock per conversation, and its update scope inside.

    aiogram takes the FSM lock of ``(chat, user)`` and then reads the state;
    aiogram-dialog locks its stack (``(chat, chat)``, destiny ``aiogd:stack:…``)
    and reads stack and context; background updates (``DialogUpdate``) take only
    the stack lock. Here every key is locked as its conversation — its key with
    the default destiny — so in a private chat all of them are one lock, taken
    again by the same task for free (it is re-entrant per task). The first lock of
    a conversation in a task opens the storage's update scope for it, and the
    scope's writes are saved before that lock is released. So:

    * the scope covers aiogram's own state read (an update middleware runs only
      after it) and aiogram-dialog's stack and context: one read per update;
    * nothing else writes the conversation while the snapshot is in use — a
      background update for the same chat waits for the whole update, and sees
      its writes (with the scope in a middleware instead, aiogram-dialog releases
      its stack lock before the middleware's writes go out, and a background
      update could read the stack from before them and overwrite them).

    In a group the user's FSM record and the chat's dialog records are two
    conversations, ``(chat, user)`` and ``(chat, chat)``: two locks (always taken
    in that order), two scopes, and all dialogs of one group take turns.
    ``BgManager.fg()`` for the conversation of the current update would wait for
    itself (as it already did for the same stack).
    """

    def __init__(self, inner: BaseEventIsolation, storage: ScopedStorage) -> None:
        if not storage.supports_scopes:
            raise TypeError("ConversationIsolation needs DefaultKeyBuilder(with_destiny=True)")
        self.inner = inner
        self.storage = storage
        self._held: WeakKeyDictionary[asyncio.Task[Any], set[str]] = WeakKeyDictionary()

    def lock_key(self, key: StorageKey) -> StorageKey:
        """The key locked for `key`: its conversation, without what storage keys omit."""
        builder = cast(DefaultKeyBuilder, self.storage.key_builder)
        return replace(
            key,
            destiny=DEFAULT_DESTINY,
            bot_id=key.bot_id if builder.with_bot_id else 0,
            business_connection_id=(
                key.business_connection_id if builder.with_business_connection_id else None
            ),
        )

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        conversation = self.storage.conversation_of(key)
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under asyncio
            raise RuntimeError("ConversationIsolation.lock must run inside an asyncio task")
        held = self._held.setdefault(task, set())
        if conversation in held:
            yield
            return
        async with self.inner.lock(self.lock_key(key)):
            held.add(conversation)
            try:
                async with self.storage.update_scope(key):
                    yield
            finally:
                held.discard(conversation)
                if not held:
                    self._held.pop(task, None)

    async def close(self) -> None:
        await self.inner.close()


def conversation_isolation(
    storage: BaseStorage, isolation: BaseEventIsolation
) -> BaseEventIsolation:
    """`isolation` with conversation locks and update scopes, if `storage` has scopes.

    Pass the result to both ``Dispatcher(events_isolation=…)`` and
    ``setup_dialogs(…, events_isolation=…)``. Any other storage gets `isolation` back.
    """
    if isinstance(storage, ScopedStorage) and storage.supports_scopes:
        return ConversationIsolation(isolation, storage)
    return isolation


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
