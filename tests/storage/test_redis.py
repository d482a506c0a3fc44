"""Redis wiring: the bounded blocking pool, the event isolation, the fail-fast ping."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio import BlockingConnectionPool

from storage.fsm import create_redis_isolation, create_redis_storage, ping_redis, redis_location


def key(chat: int) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=chat, user_id=chat)


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
