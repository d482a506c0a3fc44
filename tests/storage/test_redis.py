"""Redis wiring: the bounded blocking pool, the event isolation, the fail-fast ping,
the one-hash-per-conversation layout and its expiry."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio import BlockingConnectionPool

from storage.fsm import (
    RedisConversationStorage,
    create_redis_isolation,
    create_redis_storage,
    ping_redis,
    redis_location,
)


def key(chat: int, destiny: str = "default") -> StorageKey:
    return StorageKey(bot_id=42, chat_id=chat, user_id=chat, destiny=destiny)


TTL = timedelta(minutes=5)


async def ttl_of(storage: RedisConversationStorage, k: StorageKey) -> int:
    """Seconds until `k`'s conversation expires (-1: never, -2: not stored)."""
    client: Any = storage.redis
    seconds: int = await client.ttl(storage.hash_name(k))
    return seconds


async def shorten(storage: RedisConversationStorage, k: StorageKey, seconds: int = 10) -> None:
    client: Any = storage.redis
    await client.expire(storage.hash_name(k), seconds)


@pytest.mark.redis
async def test_small_pool_waits_instead_of_failing(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix)
    try:
        pool = storage.redis.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert pool.max_connections == 2

        async def work(i: int) -> None:
            await storage.set_state(key(i), f"Form:step{i}")
            await storage.update_data(key(i), {"i": i})
            assert await storage.get_state(key(i)) == f"Form:step{i}"

        await asyncio.gather(*(work(i) for i in range(50)))
        assert await storage.get_data(key(49)) == {"i": 49}
    finally:
        await storage.close()


@pytest.mark.redis
async def test_isolation_locks_per_key(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=4, prefix=redis_prefix)
    isolation = create_redis_isolation(storage)
    assert isinstance(isolation, RedisEventIsolation)
    order: list[str] = []

    async def handler(name: str, chat: int, pause: float) -> None:
        async with isolation.lock(key(chat)):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    try:
        first = asyncio.create_task(handler("a", 1, 0.2))
        await asyncio.sleep(0.05)
        await asyncio.gather(handler("b", 1, 0), handler("other chat", 2, 0))
        await first
    finally:
        await isolation.close()
        await storage.close()
    # The same chat waits for the lock; another chat does not.
    assert order.index("b in") > order.index("a out")
    assert order.index("other chat out") < order.index("a out")


@pytest.mark.redis
async def test_ping_answers(redis_url: str) -> None:
    await ping_redis(redis_url)


async def test_ping_fails_fast_without_leaking_the_password() -> None:
    url = "redis://:s3cret-pass@127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    with pytest.raises(ConnectionError) as caught:
        await ping_redis(url)
    assert time.monotonic() - started < 3.5
    assert str(caught.value) == "Redis at 127.0.0.1:1 does not answer"
    assert "s3cret" not in str(caught.value)


async def test_ping_gives_up_after_its_deadline() -> None:
    # A non-routable address: the connect hangs (or fails at once where there is no route).
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=r"Redis at 10\.255\.255\.1:6379 does not answer"):
        await ping_redis("redis://10.255.255.1:6379/0", within=0.3)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("redis://localhost", "localhost:6379"),
        ("redis://user:pw@redis.internal:6380/2", "redis.internal:6380"),
        ("rediss://:pw@[::1]:6390", "[::1]:6390"),
        ("unix:///run/redis/redis.sock?db=1", "/run/redis/redis.sock"),
    ],
)
def test_redis_location_hides_credentials(url: str, where: str) -> None:
    assert redis_location(url) == where


@pytest.mark.redis
async def test_conversation_is_one_hash(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix)
    client: Any = storage.redis
    try:
        await storage.set_state(key(1), "Form:name")
        await storage.set_data(key(1, "aiogd:stack:"), {"intents": ["x"]})
        await storage.set_data(key(1, "aiogd:context:x"), {"state": "Form:name"})
        await storage.set_state(key(2), "Form:phone")
        assert storage.hash_name(key(1, "aiogd:stack:")) == f"{redis_prefix}:1:1"
        assert sorted([k async for k in client.scan_iter(match=f"{redis_prefix}:*")]) == [
            f"{redis_prefix}:1:1".encode(),
            f"{redis_prefix}:2:2".encode(),
        ]
        assert await client.hgetall(f"{redis_prefix}:1:1") == {
            b"state:default": b"Form:name",
            b"data:aiogd:stack:": b'{"intents": ["x"]}',
            b"data:aiogd:context:x": b'{"state": "Form:name"}',
        }
        await storage.set_state(key(2), None)  # the last field gone: the hash is gone
        assert not await client.exists(f"{redis_prefix}:2:2")
    finally:
        await storage.close()


@pytest.mark.redis
async def test_conversations_never_expire_without_a_ttl(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix)
    try:
        await storage.set_state(key(1), "Form:name")
        async with storage.update_scope(key(1)):
            await storage.set_data(key(1), {"a": 1})
        assert await ttl_of(storage, key(1)) == -1
    finally:
        await storage.close()


@pytest.mark.redis
async def test_every_write_refreshes_the_ttl(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix, ttl=TTL)
    limit = int(TTL.total_seconds())
    try:
        await storage.set_state(key(1), "Form:name")
        assert 0 < await ttl_of(storage, key(1)) <= limit

        for write in (
            storage.set_state(key(1), "Form:phone"),
            storage.set_state(key(1, "other"), None),  # a removal refreshes the rest
            storage.set_data(key(1, "aiogd:stack:"), {"intents": []}),
            storage.update_data(key(1, "aiogd:stack:"), {"last_message_id": 5}),
        ):
            await shorten(storage, key(1))
            await write
            assert 10 < await ttl_of(storage, key(1)) <= limit
    finally:
        await storage.close()


@pytest.mark.redis
async def test_an_update_scope_refreshes_the_ttl(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix, ttl=TTL)
    limit = int(TTL.total_seconds())
    try:
        async with storage.update_scope(key(3)):  # a new conversation, written in a scope
            await storage.set_data(key(3, "aiogd:stack:"), {"intents": ["x"]})
        assert 0 < await ttl_of(storage, key(3)) <= limit

        await shorten(storage, key(3))
        async with storage.update_scope(key(3)):  # an update that changes nothing
            assert await storage.get_state(key(3)) is None
            await storage.set_data(key(3, "aiogd:stack:"), {"intents": ["x"]})
        assert 10 < await ttl_of(storage, key(3)) <= limit  # still active: not expiring

        await shorten(storage, key(3))
        async with storage.update_scope(key(3)):
            await storage.set_state(key(3), "Form:name")
        assert 10 < await ttl_of(storage, key(3)) <= limit
    finally:
        await storage.close()


@pytest.mark.redis
async def test_an_idle_conversation_expires(redis_url: str, redis_prefix: str) -> None:
    storage = create_redis_storage(redis_url, max_connections=2, prefix=redis_prefix, ttl=1)
    try:
        await storage.set_state(key(4), "Form:name")
        await storage.set_data(key(4, "aiogd:stack:"), {"intents": ["x"]})
        await asyncio.sleep(1.3)
        assert await storage.get_state(key(4)) is None
        assert await storage.get_data(key(4, "aiogd:stack:")) == {}
    finally:
        await storage.close()


def test_ttl_must_be_positive() -> None:
    for ttl in (0, -5, timedelta(0)):
        with pytest.raises(ValueError, match="must be positive"):
            create_redis_storage("redis://127.0.0.1:1/0", max_connections=1, ttl=ttl)
    storage = create_redis_storage("redis://127.0.0.1:1/0", max_connections=1, ttl=90)
    assert storage.ttl_ms == 90_000
    assert create_redis_storage("redis://127.0.0.1:1/0", 1, ttl=TTL).ttl_ms == 300_000
