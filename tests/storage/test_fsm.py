"""FSM storages: one test body over SqlStorage (SQLite, PostgreSQL) and the Redis storage.

The update-scope tests count real round trips: SQL transactions (engine events) and
Redis commands and pipelines (a wrapper around the storage's client).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.exceptions import DataNotDictLikeError
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.api.entities import DEFAULT_STACK_ID, AccessSettings
from aiogram_dialog.context.storage import StorageProxy
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, create_session_factory
from storage.fsm import (
    ConversationIsolation,
    ScopedStorage,
    SqlStorage,
    conversation_isolation,
    create_redis_isolation,
    create_redis_storage,
)
from storage.models import FsmRecord
from tgsandbox import Sandbox

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
class Meter:
    """Round trips to the backend, each with what it carried.

    SQL: one trip per transaction (from its BEGIN), listing its statements.
    Redis: one trip per command or pipeline, listing its commands.
    A trip that changes anything (INSERT/UPDATE/DELETE, HSET/HDEL/SET/DEL) is a write;
    any other is a read (``PEXPIRE`` alone changes no record).
    """

    trips: list[list[str]] = field(default_factory=list)

    WRITES = ("INSERT", "UPDATE", "DELETE", "HSET", "HDEL", "SET", "DEL")

    def is_write(self, trip: list[str]) -> bool:
        return any(item.split(" ", 1)[0].upper() in self.WRITES for item in trip)

    @property
    def reads(self) -> int:
        return sum(not self.is_write(trip) for trip in self.trips)

    @property
    def writes(self) -> int:
        return sum(self.is_write(trip) for trip in self.trips)

    def reset(self) -> None:
        self.trips.clear()


def sql_meter(storage: SqlStorage) -> Meter:
    """Count `storage`'s transactions and statements (until its engine is disposed)."""
    engine: AsyncEngine = storage.session_factory.kw["bind"]
    meter = Meter()

    def on_begin(_conn: Any) -> None:
        meter.trips.append([])

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE opens the trip
            meter.trips[-1].append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "begin", on_begin)
    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    return meter


def redis_meter(storage: RedisStorage) -> Meter:
    """Count the commands and pipelines `storage` sends (one round trip each)."""
    meter = Meter()
    client: Any = storage.redis
    real_execute, real_pipeline = client.execute_command, client.pipeline

    async def execute_command(*args: Any, **options: Any) -> Any:
        # The event isolation's lock (SET NX, a release script) is no state traffic.
        is_lock = str(args[0]).upper() == "SCRIPT" or any(
            str(arg).endswith(":lock") for arg in args[1:]
        )
        if not is_lock:
            meter.trips.append([str(args[0]).upper()])
        return await real_execute(*args, **options)

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_pipe_execute, real_immediate = pipe.execute, pipe.immediate_execute_command

        async def execute(*e_args: Any, **e_kwargs: Any) -> Any:
            if pipe.command_stack:
                meter.trips.append([str(c[0][0]).upper() for c in pipe.command_stack])
            return await real_pipe_execute(*e_args, **e_kwargs)

        async def immediate(*i_args: Any, **i_kwargs: Any) -> Any:  # WATCH and what follows
            meter.trips.append([str(i_args[0]).upper()])
            return await real_immediate(*i_args, **i_kwargs)

        pipe.execute = execute
        pipe.immediate_execute_command = immediate
        return pipe

    client.execute_command = execute_command
    client.pipeline = pipeline
    return meter


@dataclass
class Backend:
    """One storage backend; `make()` opens a new storage over the same data (a restart)."""

    name: str
    make: Callable[[], BaseStorage]
    isolation: Callable[[BaseStorage], BaseEventIsolation]
    records: Callable[[], Awaitable[int]]  # how many records are stored now
    atomic_update: bool
    opened: list[BaseStorage] = field(default_factory=list)

    def meter(self, storage: BaseStorage) -> Meter:
        if isinstance(storage, SqlStorage):
            return sql_meter(storage)
        assert isinstance(storage, RedisStorage)
        return redis_meter(storage)


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
            # One hash per conversation, a state:… and/or data:… field per record.
            probe = create_redis_storage(url, max_connections=1, prefix=prefix)
            client: Any = probe.redis
            try:
                count = 0
                async for name in client.scan_iter(match=f"{prefix}:*"):
                    if await client.type(name) == b"hash":
                        fields = await client.hkeys(name)
                        count += len({f.decode().partition(":")[2] for f in fields})
                return count
            finally:
                await probe.close()

        def isolation(storage: BaseStorage) -> BaseEventIsolation:
            assert isinstance(storage, RedisStorage)
            return create_redis_isolation(storage)

        result = Backend(name, make, isolation, records, atomic_update=True)
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
    assert await backend.records() == len(keys) - 1


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
    if backend.atomic_update:  # update_data locks the row / WATCHes the hash: nothing is lost
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

    def proxy(storage: BaseStorage) -> Any:  # StorageProxy (untyped)
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


# -- update scopes --------------------------------------------------------------

# One private chat, as aiogram and aiogram-dialog key it.
STATE = key(7)  # aiogram's FSM record (default destiny)
STACK = key(7, destiny="aiogd:stack:")
CONTEXT = key(7, destiny="aiogd:context:aB3xY")


async def seed_dialog(storage: BaseStorage) -> None:
    await storage.set_data(STACK, {**DIALOG_STACK, "intents": ["aB3xY"]})
    await storage.set_data(CONTEXT, DIALOG_CONTEXT)


async def realistic_update(storage: BaseStorage, page: int | None = None) -> None:
    """What one update does to the storage; `page=None` changes nothing."""
    assert await storage.get_state(STATE) is None  # aiogram's FSMContextMiddleware
    stack = await storage.get_data(STACK)  # aiogram-dialog loads the stack…
    context = await storage.get_data(CONTEXT)  # … and its last context
    if page is not None:
        context["dialog_data"]["page"] = page
        stack["last_message_id"] += 1
    await storage.set_data(CONTEXT, context)  # context_saver_middleware writes both back
    await storage.set_data(STACK, stack)


def scoped(storage: BaseStorage) -> ScopedStorage:
    assert isinstance(storage, ScopedStorage)
    return storage


async def test_outside_a_scope_every_call_is_a_round_trip(backend: Backend) -> None:
    """Before: 3 reads and 2 writes per update, each its own transaction/round trip."""
    storage = backend.make()
    await seed_dialog(storage)
    meter = backend.meter(storage)
    await realistic_update(storage, page=3)
    assert (meter.reads, meter.writes) == (3, 2)
    assert len(meter.trips) == 5
    assert (await storage.get_data(CONTEXT))["dialog_data"]["page"] == 3


async def test_scope_reads_once_and_writes_once(backend: Backend) -> None:
    storage = backend.make()
    await seed_dialog(storage)
    meter = backend.meter(storage)
    async with scoped(storage).update_scope(STATE):
        await realistic_update(storage, page=3)
        assert (meter.reads, meter.writes) == (1, 0)  # the writes are buffered…
        other = backend.make()  # … so nobody else sees them yet
        assert (await other.get_data(CONTEXT))["dialog_data"]["page"] == 2
    assert (meter.reads, meter.writes) == (1, 1)
    assert len(meter.trips) == 2
    load, save = meter.trips
    if backend.name == "redis":
        assert load == ["HGETALL"]
        assert save == ["HSET"]  # both fields in one HSET, in MULTI … EXEC
    else:
        assert len(load) == 1 and load[0].startswith("SELECT")
        assert len(save) == 1 and save[0].startswith("INSERT")  # one multi-row upsert

    after = backend.make()  # a restart sees what the scope wrote
    assert (await after.get_data(CONTEXT))["dialog_data"]["page"] == 3
    assert (await after.get_data(STACK))["last_message_id"] == 12346
    assert (await after.get_data(CONTEXT))["start_data"] == DIALOG_CONTEXT["start_data"]


async def test_scope_without_changes_writes_nothing(backend: Backend) -> None:
    storage = backend.make()
    await seed_dialog(storage)
    meter = backend.meter(storage)
    async with scoped(storage).update_scope(STATE):
        await realistic_update(storage)  # reads, and writes back the same values
    assert (meter.reads, meter.writes) == (1, 0)

    meter.reset()
    async with scoped(storage).update_scope(STATE):
        pass  # nothing read: nothing loaded either
    assert meter.trips == []


async def test_scope_reads_see_its_own_writes(backend: Backend) -> None:
    storage = backend.make()
    await seed_dialog(storage)
    meter = backend.meter(storage)
    async with scoped(storage).update_scope(STACK):  # any key of the conversation will do
        await storage.set_state(STATE, Form.name)
        assert await storage.get_state(STATE) == "Form:name"
        await storage.set_data(STATE, {"pair": (1, 2), "by_id": {7: "seven"}})
        assert await storage.get_data(STATE) == {"pair": [1, 2], "by_id": {"7": "seven"}}
        assert await storage.update_data(STATE, {"more": 1}) == {
            "pair": [1, 2],
            "by_id": {"7": "seven"},
            "more": 1,
        }
        assert await storage.get_value(STATE, "more") == 1
        loaded = await storage.get_data(STATE)
        loaded["more"] = 99  # the caller gets its own copy
        assert await storage.get_value(STATE, "more") == 1
        with pytest.raises(TypeError):  # refused at once, not at the end of the scope
            await storage.set_data(STATE, {"when": datetime(2026, 1, 1, tzinfo=UTC)})

        await storage.set_data(CONTEXT, {})  # aiogram-dialog closes the dialog
        assert await storage.get_data(CONTEXT) == {}
        await storage.set_state(key(7, destiny="scratch"), "S:1")  # made and dropped
        await storage.set_state(key(7, destiny="scratch"), None)
        assert await storage.get_state(key(7, destiny="scratch")) is None
        assert (meter.reads, meter.writes) == (1, 0)
    assert (meter.reads, meter.writes) == (1, 1)
    if backend.name != "redis":
        assert [s.split(" ", 1)[0] for s in meter.trips[1]] == ["INSERT", "DELETE"]

    after = backend.make()
    assert await after.get_state(STATE) == "Form:name"
    assert await after.get_data(STATE) == {"pair": [1, 2], "by_id": {"7": "seven"}, "more": 1}
    assert await after.get_data(CONTEXT) == {}
    assert await backend.records() == 2  # the state record and the stack


async def test_scope_saves_what_was_written_before_an_exception(backend: Backend) -> None:
    """As when every write went out at once: what was written before a failure stays."""
    storage = backend.make()
    await seed_dialog(storage)
    with pytest.raises(LookupError, match="handler failed"):
        async with scoped(storage).update_scope(STATE):
            await storage.set_state(STATE, Form.phone)
            raise LookupError("handler failed")
    assert await backend.make().get_state(STATE) == "Form:phone"


async def test_failed_save_after_an_exception_keeps_the_exception(
    backend: Backend, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = scoped(backend.make())

    async def broken(*_args: Any) -> None:
        raise ConnectionError("backend gone")

    monkeypatch.setattr(storage, "_write_conversation", broken)
    with pytest.raises(LookupError):  # the handler's exception, not the save's
        async with storage.update_scope(STATE):
            await storage.set_state(STATE, Form.phone)
            raise LookupError("handler failed")
    assert "Could not save the conversation state" in caplog.text

    with pytest.raises(ConnectionError):  # without another exception, the save's own
        async with storage.update_scope(STATE):
            await storage.set_state(STATE, Form.phone)


async def test_scope_leaves_other_conversations_and_tasks_alone(backend: Backend) -> None:
    storage = backend.make()
    await seed_dialog(storage)
    meter = backend.meter(storage)
    async with scoped(storage).update_scope(STATE):
        await storage.set_state(STATE, Form.name)  # loads and buffers
        meter.reset()

        # Another conversation — another chat, or the same chat's thread — goes direct.
        await storage.set_state(key(8), "Other:1")
        await storage.set_state(key(7, thread_id=3), "Thread:1")
        assert (meter.reads, meter.writes) == (0, 2)
        assert await backend.make().get_state(key(8)) == "Other:1"

        # A task started in the scope (asyncio copies the context) is not in it.
        async def elsewhere() -> str | None:
            state = await storage.get_state(STATE)
            await storage.set_data(key(7, destiny="bg"), {"from": "task"})
            return state

        assert await asyncio.create_task(elsewhere()) is None  # the stored value
        assert await backend.make().get_data(key(7, destiny="bg")) == {"from": "task"}

        # The same conversation again (a nested scope) joins this one.
        async with scoped(storage).update_scope(CONTEXT):
            assert await storage.get_state(STATE) == "Form:name"
        assert await backend.make().get_state(STATE) is None  # still buffered
    assert await backend.make().get_state(STATE) == "Form:name"


async def test_update_data_in_a_scope_uses_the_snapshot(backend: Backend) -> None:
    storage = backend.make()
    await storage.set_data(STATE, {"a": 1})
    meter = backend.meter(storage)
    async with scoped(storage).update_scope(STATE):
        assert await storage.update_data(STATE, {"b": 2}) == {"a": 1, "b": 2}
        assert await storage.update_data(STATE, {"a": 3}) == {"a": 3, "b": 2}
        assert await storage.update_data(STATE, {}) == {"a": 3, "b": 2}
    assert (meter.reads, meter.writes) == (1, 1)
    assert await backend.make().get_data(STATE) == {"a": 3, "b": 2}


def dialog_proxy(
    storage: BaseStorage, isolation: BaseEventIsolation, chat: int, user: int
) -> Any:  # aiogram-dialog's StorageProxy (untyped)
    bot: Any = SimpleNamespace(id=BOT_ID)
    return StorageProxy(
        storage=storage,
        events_isolation=isolation,
        user_id=user,
        chat_id=chat,
        thread_id=None,
        business_connection_id=None,
        bot=bot,
        state_groups={"Form": Form},
    )


async def dialog_update(
    storage: BaseStorage, isolation: BaseEventIsolation, chat: int, user: int, page: int
) -> None:
    """An update as aiogram and aiogram-dialog run it, with their locks and calls."""
    fsm_key = key(chat, user=user)
    async with isolation.lock(fsm_key):  # FSMContextMiddleware: lock, then read the state
        assert await storage.get_state(fsm_key) is None
        proxy = dialog_proxy(storage, isolation, chat, user)
        try:
            stack = await proxy.load_stack()  # locks the stack, reads it
            if stack.empty():
                context = stack.push(Form.name, {"patient_id": 17})
            else:
                context = await proxy.load_context(stack.last_intent_id())
            context.dialog_data["page"] = page
            stack.last_message_id = page
            await proxy.save_context(context)  # context_saver_middleware
            await proxy.save_stack(stack)
        finally:
            await proxy.unlock()  # context_unlocker_middleware


async def test_conversation_isolation_runs_an_update_in_one_read_and_one_write(
    backend: Backend,
) -> None:
    storage = backend.make()
    isolation = conversation_isolation(storage, backend.isolation(storage))
    assert isinstance(isolation, ConversationIsolation)
    meter = backend.meter(storage)
    try:
        await dialog_update(storage, isolation, 1001, 1001, page=1)  # starts the dialog
        assert (meter.reads, meter.writes) == (1, 1)
        meter.reset()
        await dialog_update(storage, isolation, 1001, 1001, page=2)
        assert (meter.reads, meter.writes) == (1, 1)
    finally:
        await isolation.close()

    proxy = dialog_proxy(backend.make(), SimpleEventIsolation(), 1001, 1001)
    stack = await proxy.load_stack()
    await proxy.unlock()
    assert stack.last_message_id == 2
    assert await backend.records() == 2  # the stack and the context


async def test_background_update_waits_for_the_whole_update(backend: Backend) -> None:
    """A DialogUpdate takes only the stack lock: it must not see the stack before the save."""
    storage = backend.make()
    isolation = conversation_isolation(storage, backend.isolation(storage))
    await dialog_update(storage, isolation, 1001, 1001, page=1)
    seen: list[int | None] = []

    async def background() -> None:
        proxy = dialog_proxy(storage, isolation, 1001, 1001)
        try:
            seen.append((await proxy.load_stack()).last_message_id)
        finally:
            await proxy.unlock()

    try:
        async with isolation.lock(key(1001)):
            proxy = dialog_proxy(storage, isolation, 1001, 1001)
            stack = await proxy.load_stack()
            stack.last_message_id = 2
            await proxy.save_stack(stack)
            await proxy.unlock()  # aiogram-dialog lets go of the stack here…
            task = asyncio.create_task(background())
            await asyncio.sleep(0.1)
            assert not task.done()  # … but the conversation stays locked until saved
        await task
    finally:
        await isolation.close()
    assert seen == [2]


async def test_group_chat_has_two_conversations(backend: Backend) -> None:
    """In a group the user's FSM record and the chat's dialog records are apart."""
    storage = backend.make()
    isolation = conversation_isolation(storage, backend.isolation(storage))
    meter = backend.meter(storage)
    try:
        await dialog_update(storage, isolation, -100, 1, page=1)
        await dialog_update(storage, isolation, -100, 2, page=1)  # another member
    finally:
        await isolation.close()
    assert (meter.reads, meter.writes) == (4, 2)  # per update: 2 reads, 1 write
    assert await backend.records() == 4  # two stacks and two contexts, all (chat, chat)


class Counter(StatesGroup):
    main = State()


def counter_bot(
    storage: BaseStorage, isolation: BaseEventIsolation, *, scope_in_middleware: bool = False
) -> Dispatcher:
    """aiogram + aiogram-dialog for real: /start opens a dialog, a button counts."""

    async def getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
        return {"n": dialog_manager.dialog_data.get("n", 0)}

    async def more(_callback: Any, _button: Any, manager: DialogManager) -> None:
        manager.dialog_data["n"] = manager.dialog_data.get("n", 0) + 1

    dialog = Dialog(
        Window(
            Format("n={n}"),
            Button(Const("Ещё"), id="more", on_click=more),
            state=Counter.main,
            getter=getter,
        )
    )
    commands = Router()

    @commands.message(CommandStart())
    async def start(_message: Any, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(Counter.main, mode=StartMode.RESET_STACK)

    dp = Dispatcher(storage=storage, events_isolation=isolation)
    if scope_in_middleware:  # the scope opened by an update middleware, for comparison

        async def scope(handler: Any, update: Any, data: dict[str, Any]) -> Any:
            state = data.get("state")
            if state is None:
                return await handler(update, data)
            async with scoped(storage).update_scope(state.key):
                return await handler(update, data)

        dp.update.outer_middleware(scope)
    dp.include_router(commands)
    dp.include_router(dialog)
    setup_dialogs(dp, events_isolation=isolation)
    return dp


@pytest.mark.parametrize("wiring", ["plain", "middleware", "isolation"])
async def test_a_real_update_through_aiogram_and_aiogram_dialog(
    backend: Backend, wiring: str
) -> None:
    storage = backend.make()
    isolation = backend.isolation(storage)
    if wiring == "isolation":
        isolation = conversation_isolation(storage, isolation)
    dp = counter_bot(storage, isolation, scope_in_middleware=wiring == "middleware")
    sandbox = Sandbox()
    bot = sandbox.create_bot()
    sandbox.attach(dp, bot)
    meter = backend.meter(storage)
    try:
        anna = sandbox.user(1001, "Анна")
        await anna.send("/start")
        assert anna.last.text == "n=0"
        for n in (1, 2):
            meter.reset()
            await anna.press("Ещё")
            assert anna.last.text == f"n={n}"
            # aiogram reads the state; aiogram-dialog the context and the stack, and
            # writes both back. The middleware's scope opens after aiogram's read.
            assert (meter.reads, meter.writes) == {
                "plain": (3, 2),
                "middleware": (2, 1),
                "isolation": (1, 1),
            }[wiring], meter.trips
    finally:
        await dp.emit_shutdown(bot=bot)  # closes the storage and the isolation
        await bot.session.close()
    assert await backend.records() == 2


async def test_conversation_isolation_needs_a_scoped_storage() -> None:
    inner = SimpleEventIsolation()
    assert conversation_isolation(MemoryStorage(), inner) is inner


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


async def range_scan_plan(storage: SqlStorage, engine: AsyncEngine) -> str:
    """The query plan of the statement a scope really runs to load a conversation."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        if statement.lstrip().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with storage.update_scope(STATE):
            await storage.get_state(STATE)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    [(statement, parameters)] = captured
    if engine.dialect.name == "postgresql":
        assert 'COLLATE "C"' in statement
    assert " >= " in statement and " < " in statement and "fsm_records" in statement
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        await connection.exec_driver_sql("SET enable_seqscan = off")  # as if the table were big
        rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(str(row[0]) for row in rows)


async def test_sql_scope_loads_with_a_primary_key_range_scan(
    sql_storage: tuple[SqlStorage, AsyncEngine],
) -> None:
    storage, engine = sql_storage
    if engine.dialect.name == "postgresql":
        # The range compares with COLLATE "C" (a prefix range is only a prefix in byte
        # order); the primary key serves it once the column is collated "C" too — what
        # the proposed migration does. Applied here to the test's own database copy.
        async with engine.begin() as connection:
            await connection.execute(
                text('ALTER TABLE fsm_records ALTER COLUMN key TYPE VARCHAR(255) COLLATE "C"')
            )
    plan = await range_scan_plan(storage, engine)
    if engine.dialect.name == "sqlite":
        assert "SEARCH fsm_records USING" in plan and "(key>? AND key<?)" in plan, plan
    else:
        assert "pk_fsm_records" in plan and "Seq Scan" not in plan, plan
        assert "Index Cond: (((key)::text >= " in plan, plan


@pytest.mark.postgres
async def test_pg_scope_is_right_under_a_linguistic_collation(pg_url: str) -> None:
    """Under en_US/ICU ordering a string range is no prefix: the scope compares in C order."""
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as connection:
            icu = await connection.scalar(
                text("SELECT count(*) FROM pg_collation WHERE collname = 'en-x-icu'")
            )
            if not icu:
                pytest.skip("PostgreSQL has no ICU collations")
            await connection.execute(
                text(
                    'ALTER TABLE fsm_records ALTER COLUMN key TYPE VARCHAR(255) COLLATE "en-x-icu"'
                )
            )
        storage = SqlStorage(create_session_factory(engine))
        await seed_dialog(storage)
        await storage.set_state(STATE, Form.name)
        await storage.set_state(key(77), "Other:1")  # fsm:77:77:… sorts near fsm:7:7:…
        await storage.set_state(key(7, user=77), "Other:2")

        async with engine.connect() as connection:  # what a plain range would find
            plain = await connection.scalar(
                text(
                    "SELECT count(*) FROM fsm_records WHERE key >= 'fsm:7:7:' AND key < 'fsm:7:7;'"
                )
            )
        assert plain != 3

        meter = sql_meter(storage)
        async with storage.update_scope(STATE):
            assert await storage.get_state(STATE) == "Form:name"
            assert await storage.get_data(STACK) == {**DIALOG_STACK, "intents": ["aB3xY"]}
            assert await storage.get_data(CONTEXT) == DIALOG_CONTEXT
        assert (meter.reads, meter.writes) == (1, 0)
    finally:
        await engine.dispose()
