"""FSM storages: one test body over SqlStorage (SQLite, PostgreSQL) and RedisStorage."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram_dialog.api.entities import DEFAULT_STACK_ID, AccessSettings
from aiogram_dialog.context.storage import StorageProxy
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, create_session_factory
from storage.fsm import SqlStorage, create_redis_isolation, create_redis_storage
from storage.models import FsmRecord

BOT_ID = 42


class Form(StatesGroup):
    name = State()
    phone = State()


def key(chat: int = 1, user: int | None = None, **kwargs: Any) -> StorageKey:
    return StorageKey(bot_id=BOT_ID, chat_id=chat, user_id=chat if user is None else user, **kwargs)


# What aiogram-dialog keeps: a context (vars of Context, state as text) and a stack.
DIALOG_CONTEXT = {
    "_intent_id": "aB3xY",
    "_stack_id": "",
    "state": "Form:name",
    "start_data": {"patient_id": 17, "tags": ["a", "b"], "nested": {"x": None, "y": 1.5}},
    "dialog_data": {"ФИО": "Иванов Иван Иванович", "page": 2, "confirmed": True},
    "widget_data": {"calendar": {"current_offset": "2026-03-01"}, "multi": ["1", "3"]},
    "access_settings": {"user_ids": [1001], "custom": None},
}
DIALOG_STACK = {
    "_id": "",
    "intents": ["aB3xY", "cD4zW"],
    "last_message_id": 12345,
    "last_reply_keyboard": False,
    "last_media_id": None,
    "last_media_unique_id": None,
    "last_income_media_group_id": None,
}


@dataclass
class Backend:
    """One storage backend; `make()` opens a new storage over the same data (a restart)."""

    name: str
    make: Callable[[], BaseStorage]
    isolation: Callable[[BaseStorage], BaseEventIsolation]
    records: Callable[[], Awaitable[int]]  # how many records are stored now
    atomic_update: bool
    opened: list[BaseStorage] = field(default_factory=list)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def fsm_target(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """(backend, url, redis key prefix); resolved here, outside the event loop."""
    if request.param == "redis":
        return (
            "redis",
            request.getfixturevalue("redis_url"),
            request.getfixturevalue("redis_prefix"),
        )
    fixture = {"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param]
    return request.param, request.getfixturevalue(fixture), ""


@pytest.fixture
async def backend(fsm_target: tuple[str, str, str]) -> AsyncIterator[Backend]:
    name, url, prefix = fsm_target
    engines: list[AsyncEngine] = []

    if name == "redis":

        def make() -> BaseStorage:
            storage = create_redis_storage(url, max_connections=10, prefix=prefix)
            result.opened.append(storage)
            return storage

        async def records() -> int:
            probe = create_redis_storage(url, max_connections=1, prefix=prefix)
            try:
                return len([k async for k in probe.redis.scan_iter(match=f"{prefix}:*")])
            finally:
                await probe.close()

        def isolation(storage: BaseStorage) -> BaseEventIsolation:
            assert isinstance(storage, RedisStorage)
            return create_redis_isolation(storage)

        result = Backend(name, make, isolation, records, atomic_update=False)
    else:

        def make() -> BaseStorage:
            engine = create_engine(url)  # a new engine: nothing shared with the last "process"
            engines.append(engine)
            storage = SqlStorage(create_session_factory(engine))
            result.opened.append(storage)
            return storage

        async def records() -> int:
            async with create_session_factory(engines[0])() as session:
                return int(await session.scalar(select(func.count()).select_from(FsmRecord)) or 0)

        result = Backend(name, make, lambda _: SimpleEventIsolation(), records, atomic_update=True)

    try:
        yield result
    finally:
        for storage in result.opened:
            await storage.close()
        for engine in engines:
            await engine.dispose()


async def test_state_round_trip(backend: Backend) -> None:
    storage = backend.make()
    k = key()
    assert await storage.get_state(k) is None
    await storage.set_state(k, Form.name)
    assert await storage.get_state(k) == "Form:name"
    await storage.set_state(k, "Form:phone")
    assert await storage.get_state(k) == Form.phone
    await storage.set_state(k, None)
    assert await storage.get_state(k) is None
    assert await backend.records() == 0


async def test_data_round_trip(backend: Backend) -> None:
    storage = backend.make()
    k = key(destiny="aiogd:context:aB3xY")
    assert await storage.get_data(k) == {}
    await storage.set_data(k, DIALOG_CONTEXT)
    loaded = await storage.get_data(k)
    assert loaded == DIALOG_CONTEXT

    loaded["dialog_data"]["page"] = 99  # the caller gets its own copy
    assert await storage.get_data(k) == DIALOG_CONTEXT

    assert await storage.get_value(k, "state") == "Form:name"
    assert await storage.get_value(k, "missing") is None
    assert await storage.get_value(k, "missing", "fallback") == "fallback"

    await storage.set_data(k, {"only": 1})  # set_data replaces
    assert await storage.get_data(k) == {"only": 1}
    assert await storage.update_data(k, {"more": [1, 2]}) == {"only": 1, "more": [1, 2]}
    assert await storage.get_data(k) == {"only": 1, "more": [1, 2]}


async def test_data_is_json_on_every_backend(backend: Backend) -> None:
    storage = backend.make()
    k = key()
    await storage.set_data(k, {"pair": (1, 2), "by_id": {7: "seven"}})
    assert await storage.get_data(k) == {"pair": [1, 2], "by_id": {"7": "seven"}}
    with pytest.raises(TypeError):
        await storage.set_data(k, {"when": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(TypeError):
        await storage.set_data(k, {"tags": {"a", "b"}})
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(k, [("a", 1)])  # type: ignore[arg-type]
    assert await storage.get_data(k) == {"pair": [1, 2], "by_id": {"7": "seven"}}


async def test_keys_are_isolated(backend: Backend) -> None:
    storage = backend.make()
    keys = {
        "chat 1": key(1),
        "chat 2": key(2),
        "user in group": key(-100, user=1),
        "thread": key(-100, user=1, thread_id=5),
        "dialog stack": key(1, destiny="aiogd:stack:"),
        "dialog context": key(1, destiny="aiogd:context:aB3xY"),
    }
    for i, (label, k) in enumerate(keys.items()):
        await storage.set_state(k, f"Group:{i}")
        await storage.set_data(k, {"label": label})
    for i, (label, k) in enumerate(keys.items()):
        assert await storage.get_state(k) == f"Group:{i}"
        assert await storage.get_data(k) == {"label": label}

    await storage.set_state(keys["chat 1"], None)
    await storage.set_data(keys["chat 1"], {})
    assert await storage.get_state(keys["dialog stack"]) == "Group:4"
    assert await storage.get_data(keys["dialog context"]) == {"label": "dialog context"}
    assert await backend.records() == (len(keys) - 1) * (2 if backend.name == "redis" else 1)


async def test_state_and_data_survive_a_restart(backend: Backend) -> None:
    before = backend.make()
    k = key(7)
    await before.set_state(k, Form.phone)
    await before.set_data(k, {"phone": "+79001234567"})
    await before.close()

    after = backend.make()
    assert await after.get_state(k) == "Form:phone"
    assert await after.get_data(k) == {"phone": "+79001234567"}


async def test_concurrent_writes_do_not_crash(backend: Backend) -> None:
    storage = backend.make()
    fresh = key(99)
    # Many first writes of one new key at once: an insert race unless writes are upserts.
    await asyncio.gather(*(storage.set_data(fresh, {"n": i}) for i in range(20)))
    await asyncio.gather(*(storage.set_state(fresh, f"S:{i}") for i in range(20)))
    assert (await storage.get_data(fresh))["n"] in range(20)
    assert await storage.get_state(fresh) in {f"S:{i}" for i in range(20)}

    k = key(100)
    results = await asyncio.gather(*(storage.update_data(k, {f"f{i}": i}) for i in range(50)))
    assert all(isinstance(r, dict) for r in results)
    data = await storage.get_data(k)
    assert data and all(data[name] == int(name[1:]) for name in data)
    if backend.atomic_update:  # SqlStorage.update_data locks the row: no update is lost
        assert data == {f"f{i}": i for i in range(50)}


async def test_clearing_leaves_nothing_behind(backend: Backend) -> None:
    storage = backend.make()
    k = key(5)
    context = FSMContext(storage=storage, key=k)
    await context.set_state(Form.name)
    await context.update_data(name="Иван", step=1)
    assert await context.get_value("name") == "Иван"
    await context.clear()
    assert await context.get_state() is None
    assert await context.get_data() == {}

    await storage.set_state(k, Form.name)
    await storage.set_state(k, None)
    await storage.set_data(k, {"a": 1})
    await storage.set_data(k, {})
    await storage.set_state(k, None)  # clearing what is not there is fine
    await storage.set_data(k, {})
    assert await storage.update_data(k, {}) == {}
    assert await backend.records() == 0


async def test_aiogram_dialog_stack_and_context(backend: Backend) -> None:
    """aiogram-dialog's own proxy saves and loads its stack and context through the storage."""
    bot: Any = SimpleNamespace(id=BOT_ID)

    def proxy(storage: BaseStorage) -> StorageProxy:
        return StorageProxy(
            storage=storage,
            events_isolation=backend.isolation(storage),
            user_id=1001,
            chat_id=1001,
            thread_id=None,
            business_connection_id=None,
            bot=bot,
            state_groups={"Form": Form},
        )

    first = proxy(backend.make())
    stack = await first.load_stack()
    assert stack.empty()
    context = stack.push(Form.name, {"patient_id": 17})
    context.access_settings = AccessSettings(user_ids=[1001])
    context.dialog_data["ФИО"] = "Иванов Иван"
    context.widget_data["calendar"] = {"current_offset": "2026-03-01"}
    stack.last_message_id = 555
    await first.save_context(context)
    await first.save_stack(stack)
    await first.unlock()

    second = proxy(backend.make())  # after a restart
    loaded_stack = await second.load_stack(DEFAULT_STACK_ID)
    try:
        assert loaded_stack.intents == [context.id]
        assert loaded_stack.last_message_id == 555
        loaded = await second.load_context(context.id)
        assert loaded.state == Form.name
        assert loaded.start_data == {"patient_id": 17}
        assert loaded.dialog_data == {"ФИО": "Иванов Иван"}
        assert loaded.widget_data == {"calendar": {"current_offset": "2026-03-01"}}
        assert loaded.access_settings is not None and loaded.access_settings.user_ids == [1001]

        await second.remove_context(loaded_stack.pop())
        await second.save_stack(loaded_stack)
    finally:
        await second.unlock()
    assert await backend.records() == 1  # the stack keeps last_message_id; the context is gone


# -- SqlStorage only ------------------------------------------------------------


@pytest.fixture
async def sql_storage(database_url: str) -> AsyncIterator[tuple[SqlStorage, AsyncEngine]]:
    engine = create_engine(database_url)
    try:
        yield SqlStorage(create_session_factory(engine)), engine
    finally:
        await engine.dispose()


async def test_sql_rows_are_keyed_with_destiny(
    sql_storage: tuple[SqlStorage, AsyncEngine],
) -> None:
    storage, engine = sql_storage
    await storage.set_state(key(1), Form.name)
    await storage.set_data(key(1, destiny="aiogd:stack:"), DIALOG_STACK)
    await storage.close()  # the engine is the caller's: the storage keeps working
    async with create_session_factory(engine)() as session:
        rows = (await session.scalars(select(FsmRecord).order_by(FsmRecord.key))).all()
    assert [(r.key, r.state) for r in rows] == [
        ("fsm:1:1:aiogd:stack:", None),
        ("fsm:1:1:default", "Form:name"),
    ]
    assert rows[0].data == DIALOG_STACK
    assert rows[1].data == {}
    assert all(r.updated_at.tzinfo is not None for r in rows)


async def test_sql_refuses_what_it_cannot_store(
    sql_storage: tuple[SqlStorage, AsyncEngine],
) -> None:
    storage, _ = sql_storage
    with pytest.raises(ValueError, match="longer than 255"):
        await storage.set_state(key(1, destiny="x" * 255), "S:1")
    with pytest.raises(ValueError, match="longer than 255"):
        await storage.set_state(key(1), "Group:" + "s" * 250)
    with pytest.raises(ValueError):
        await storage.set_data(key(1), {"ratio": math.nan})
    assert await storage.get_data(key(1)) == {}
