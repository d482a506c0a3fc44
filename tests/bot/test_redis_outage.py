"""Redis stopped or paused under the running bot: the person is told within 5 s, then goes on.

Each test starts its own ``redis-server`` on a free port (the shared one is never
touched), with an append-only file so that a restart keeps the conversations, as a
production Redis does. The bot is built from settings, as ``python -m bot run``
builds it: REDIS_URL, the Redis isolation, the timeouts' defaults.

A paused Redis still executes, once resumed, the lock ``SET NX`` of the update
that timed out waiting for it, and nobody releases that lock: the conversation
locks live CONVERSATION_LOCK_SECONDS (renewed while their update runs), so that
one chat waits at most that long before it is served again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import cast

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bot.config import Settings
from handlers.errors import UNAVAILABLE, UNAVAILABLE_DELETED
from storage.fsm import CONVERSATION_LOCK_SECONDS, RenewedRedisIsolation, create_redis_storage
from tests.support.bot import ANNA_PHONE, App, _ErrorCollector

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A redis-server of the test's own: stop, start again (same port, same data), pause."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def outage_app(
    tmp_path: Path, sqlite_url: str, redis_server: RedisServer
) -> AsyncIterator[App]:
    """The bot over SQLite with REDIS_URL pointing at the test's own Redis."""
    errors: list[logging.LogRecord] = []
    collector = _ErrorCollector(errors)
    logging.getLogger().addHandler(collector)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        redis_url=redis_server.url,
        bot_token=None,
        notify_per_chat_interval=0,
        processing_delay_seconds=0,
    )
    app = App(settings, lambda: None, errors)
    await app.start()
    await app.seed()
    try:
        yield app
    finally:
        redis_server.resume()
        if app.runtime is not None:
            await app.stop()
        logging.getLogger().removeHandler(collector)


async def timed_send(app: App, text: str) -> float:
    """Send as Anna; seconds until the bot had answered (the update was handled)."""
    anna = app.user()
    started = time.monotonic()
    await anna.send(text)
    return time.monotonic() - started


def outage_lines(app: App) -> list[str]:
    return [r.getMessage() for r in app.errors if r.name.startswith("bot")]


async def test_redis_stopped_the_person_reads_unavailable_within_5_s_and_goes_on_after(
    outage_app: App, redis_server: RedisServer
) -> None:
    anna = outage_app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    assert "номер телефона" in (anna.last.text or "").lower() or anna.last.text

    redis_server.stop()
    for _ in range(3):  # every update during the outage gets the answer, not only the first
        took = await timed_send(outage_app, ANNA_PHONE)
        assert anna.last.text == UNAVAILABLE_DELETED  # the typed text is deleted
        assert ANNA_PHONE not in [m.text for m in anna.messages]
        assert took < 5.0
    # one line for the operators for the whole outage, naming no personal data
    lines = outage_lines(outage_app)
    assert len(lines) == 1 and "storage unavailable" in lines[0]
    assert all(ANNA_PHONE not in line for line in lines)
    outage_app.errors.clear()

    redis_server.start()  # same port, same append-only file
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in (anna.last.text or "")  # where she was: nothing half-written


async def test_redis_paused_the_person_reads_unavailable_within_5_s_and_goes_on_after(
    outage_app: App, redis_server: RedisServer
) -> None:
    anna = outage_app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")

    redis_server.pause()
    took = await timed_send(outage_app, ANNA_PHONE)
    assert anna.last.text == UNAVAILABLE_DELETED
    assert ANNA_PHONE not in [m.text for m in anna.messages]
    assert took < 5.0
    outage_app.errors.clear()

    redis_server.resume()
    # Served at once again.
    boris = outage_app.user(1002, "+79990000002", "Борис")
    started = time.monotonic()
    await boris.send("/start")
    assert time.monotonic() - started < 5.0
    assert boris.last.text and boris.last.text != UNAVAILABLE
    # Anna's own chat waits at most until the lock her timed-out update may have left
    # behind expires (it is renewed only while an update runs), and goes on where she was.
    started = time.monotonic()
    await anna.send(ANNA_PHONE)
    assert time.monotonic() - started < CONVERSATION_LOCK_SECONDS + 5.0
    assert "Введите пароль" in (anna.last.text or "")


async def test_a_long_update_keeps_its_conversation_lock(redis_server: RedisServer) -> None:
    """A lock outlives its short TTL while its update still runs (it is renewed)."""
    storage = create_redis_storage(redis_server.url, 5)
    isolation = RenewedRedisIsolation(storage, ttl=0.6)
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    order: list[str] = []

    async def long_update() -> None:
        async with isolation.lock(key):
            order.append("long started")
            await asyncio.sleep(2.0)  # more than three TTLs
            order.append("long done")

    async def next_update() -> None:
        await asyncio.sleep(0.1)
        async with isolation.lock(key):
            order.append("next")

    try:
        await asyncio.gather(long_update(), next_update())
    finally:
        await storage.close()
    assert order == ["long started", "long done", "next"]


async def test_a_pressed_button_during_a_redis_outage_gets_an_alert(
    outage_app: App, redis_server: RedisServer
) -> None:
    anna = outage_app.user()
    await anna.send("/start")
    redis_server.stop()
    await anna.press("Войти через Госуслуги")
    assert anna.callback_answers[-1] == UNAVAILABLE
    outage_app.errors.clear()


async def test_redis_client_gives_up_within_its_socket_timeout(redis_server: RedisServer) -> None:
    """The storage's client itself: a paused server raises, it does not hang."""
    from storage.fsm import REDIS_OUTAGE_ERRORS, create_redis_storage

    storage = create_redis_storage(redis_server.url, 2, socket_timeout=1.0, connect_timeout=1.0)
    client: Redis = storage.redis
    try:
        assert await cast(Awaitable[bool], client.ping())
        redis_server.pause()
        started = time.monotonic()
        with pytest.raises(REDIS_OUTAGE_ERRORS):
            await asyncio.wait_for(client.get("x"), 10)
        assert time.monotonic() - started < 2.0
    finally:
        redis_server.resume()
        await storage.close()
