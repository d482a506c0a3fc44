"""PostgreSQL gone or hanging under the running bot and its workers.

The shared server is never touched: the bot connects through a TCP proxy the test
controls — ``down`` drops every connection and refuses new ones, ``hang`` keeps them
open but forwards nothing (a server that stopped answering), ``up`` forwards again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.workers import build_notifier, build_processor
from handlers.errors import UNAVAILABLE_DELETED
from tests.support.bot import ANNA_PHONE, App, _ErrorCollector


class PgProxy:
    """A TCP proxy in front of PostgreSQL whose state the test sets."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.state = "up"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._resumed = asyncio.Event()
        self._resumed.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.up()
        if self._server is not None:
            self._server.close()
        self._drop_all()

    def down(self) -> None:
        self.state = "down"
        self._drop_all()

    def hang(self) -> None:
        self.state = "hang"
        self._resumed.clear()

    def up(self) -> None:
        self.state = "up"
        self._resumed.set()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state == "down":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                await self._resumed.wait()
                if self.state == "down":
                    break
                writer.write(chunk)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    url = make_url(pg_url)
    running = PgProxy(url.host or "127.0.0.1", url.port or 5432)
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def pg_outage_app(tmp_path: Path, pg_url: str, proxy: PgProxy) -> AsyncIterator[App]:
    """The bot on PostgreSQL (conversation state in SQL too), through the proxy."""
    errors: list[logging.LogRecord] = []
    collector = _ErrorCollector(errors)
    logging.getLogger().addHandler(collector)
    proxied = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=proxied.render_as_string(hide_password=False),
        redis_url=None,
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
        proxy.up()
        if app.runtime is not None:
            await app.stop()
        logging.getLogger().removeHandler(collector)


async def timed_send(app: App, text: str) -> float:
    started = time.monotonic()
    await app.user().send(text)
    return time.monotonic() - started


async def test_database_down_the_person_reads_unavailable_within_5_s_and_goes_on_after(
    pg_outage_app: App, proxy: PgProxy
) -> None:
    anna = pg_outage_app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")

    proxy.down()
    for _ in range(2):
        assert await timed_send(pg_outage_app, ANNA_PHONE) < 5.0
        assert anna.last.text == UNAVAILABLE_DELETED
        assert ANNA_PHONE not in [m.text for m in anna.messages]
    lines = [r.getMessage() for r in pg_outage_app.errors if r.name.startswith("bot")]
    assert len(lines) == 1 and "storage unavailable" in lines[0]
    assert all(ANNA_PHONE not in r.getMessage() for r in pg_outage_app.errors)
    pg_outage_app.errors.clear()

    proxy.up()
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in (anna.last.text or "")  # where she was: nothing half-written


async def test_database_hanging_the_person_reads_unavailable_within_5_s_and_goes_on_after(
    pg_outage_app: App, proxy: PgProxy
) -> None:
    anna = pg_outage_app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")

    proxy.hang()
    assert await timed_send(pg_outage_app, ANNA_PHONE) < 5.0
    assert anna.last.text == UNAVAILABLE_DELETED
    pg_outage_app.errors.clear()

    proxy.up()
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in (anna.last.text or "")


async def test_workers_log_one_line_when_the_database_goes_and_one_when_it_is_back(
    pg_outage_app: App, proxy: PgProxy, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, bot = pg_outage_app.runtime, pg_outage_app.bot
    assert runtime is not None and bot is not None
    caplog.set_level(logging.INFO, logger="bot.workers")
    notifier = build_notifier(runtime, bot)
    processor = build_processor(runtime, bot)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(notifier.run(stop, poll_seconds=0.02)),
        asyncio.create_task(processor.run(stop)),
    ]
    processor.poll_seconds = 0.02
    try:
        await asyncio.sleep(0.3)
        proxy.down()
        await asyncio.sleep(4.0)  # at 0.02 s polls, today's loops would log ~400 lines here
        proxy.up()
        async with asyncio.timeout(40):
            while notifier.outage.active or processor.outage.active:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks), 10)

    worker_lines = [
        (r.levelno, r.name, r.getMessage())
        for r in caplog.records
        if r.name.startswith("bot.workers") and r.levelno >= logging.WARNING
    ]
    for name in ("notifier", "processor"):
        mine = [line for line in worker_lines if line[2].startswith(f"{name}:")]
        assert [level for level, _, _ in mine] == [logging.ERROR, logging.WARNING], mine
        assert "storage unavailable" in mine[0][2] and "storage back" in mine[1][2]
    assert len(worker_lines) == 4, worker_lines
    # backing off: a handful of attempts in 4 s, not one every 20 ms
    assert notifier.outage.outages == 1 and processor.outage.outages == 1
    pg_outage_app.errors.clear()
