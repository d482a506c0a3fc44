"""PostgreSQL down under `python -m bot run` (a separate process, polling over HTTP).

The update inbox stores every update before it is acknowledged, so with the
database gone nothing can be stored: the person must still be answered within
5 s — once, not at every retry of the batch — a typed text (it may be a
password) deleted from the chat, the outage logged as one line when it starts
and one when it ends, and the update handled once the database is back.
The database is reached through a TCP proxy the test controls; the machine's
PostgreSQL is never stopped.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from handlers.errors import UNAVAILABLE_DELETED
from tests.bot.test_pg_outage import PgProxy
from tests.e2e.test_run_process import BotProcess, last_buttons, last_text, until
from tgsandbox import Sandbox, serve_http

pytestmark = pytest.mark.postgres

PASSWORD = "Demo-Passw0rd"


@pytest.fixture
async def running(
    tmp_path: Path, pg_url: str
) -> AsyncIterator[tuple[Sandbox, BotProcess, PgProxy]]:
    url = make_url(pg_url)
    proxy = PgProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    sandbox = Sandbox()
    server = await serve_http(sandbox)
    through_proxy = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env.update(
        BOT_TOKEN=sandbox.token,
        TELEGRAM_API_BASE=server.url,
        DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=through_proxy.render_as_string(hide_password=False),
        LOG_LEVEL="DEBUG",  # nothing personal at DEBUG either: the password is searched for
        WORKER_POLL_SECONDS="0.2",
    )
    bot = BotProcess(tmp_path, env)
    # Not bot.cli: a blocking call would stop this event loop, and the proxy with it.
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "seed-demo", cwd=tmp_path, env=env
    )
    assert await asyncio.wait_for(seed.wait(), 120) == 0
    try:
        yield sandbox, bot, proxy
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        await server.close()
        await proxy.close()


async def test_database_down_under_run_answers_once_deletes_the_text_and_logs_one_pair(
    running: tuple[Sandbox, BotProcess, PgProxy],
) -> None:
    sandbox, bot, proxy = running
    await bot.start()
    await until(lambda: bool(sandbox.commands), "setMyCommands", within=60)
    anna = sandbox.user(user_id=1001, first_name="Анна", phone="+79990000001")
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await until(lambda: "update 1 done" in bot.output(), "/start marked done")

    proxy.down()
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    typed = await anna.send(PASSWORD)
    await until(lambda: last_text(anna) == UNAVAILABLE_DELETED, "the answer", within=5)
    assert loop.time() - sent_at < 5
    # The text is gone from the chat; more messages during the outage are not answered again.
    assert all(m.message_id != typed.message_id for m in anna.messages)
    await anna.send("ещё раз")
    await asyncio.sleep(3)
    answers = [m for m in anna.messages if m.from_bot and m.text == UNAVAILABLE_DELETED]
    assert len(answers) == 1

    proxy.up()

    # Back: what was typed meanwhile is handled now, and the bot answers again.
    def welcomes() -> int:
        return sum((m.text or "").startswith("Здравствуйте!") for m in anna.messages if m.from_bot)

    before = welcomes()
    await anna.send("/start")
    await until(lambda: welcomes() > before, "the bot after the outage", within=30)
    await until(lambda: "polling: storage back after" in bot.output(), "the log line", within=10)
    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    assert PASSWORD not in log
    assert log.count("polling: storage unavailable") == 1, log
    assert log.count("polling: storage back after") == 1, log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    # One line per component that met the outage (polling, the inbox, the workers).
    assert len(errors) <= 5, "\n".join(errors)
