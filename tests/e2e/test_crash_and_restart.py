"""`python -m bot run` killed, stopped and restarted with updates in flight.

The bot process long-polls the sandbox over HTTP (or takes webhooks); the
sandbox server holds a chosen Bot API answer (or a file download) back, so the
test knows an update is being handled when it kills or stops the process.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from services.demo import PETROV_APPLICATION
from services.enrolment.application import FIELDS
from tests.e2e.test_run_process import (
    PASSWORD,
    BotProcess,
    free_port,
    last_buttons,
    last_text,
    until,
)
from tgsandbox import Sandbox, SandboxHTTPServer, SandboxUser, serve_http

GRACE = 8
LEASE = 2
# A stopped process is gone within the grace and the interpreter's exit (slow on a busy machine).
EXIT_MARGIN = 5

Served = tuple[Sandbox, SandboxHTTPServer, BotProcess]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    sandbox = Sandbox()
    server = await serve_http(sandbox)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env.update(
        BOT_TOKEN=sandbox.token,
        TELEGRAM_API_BASE=server.url,
        DATA_DIR=str(tmp_path / "data"),
        LOG_LEVEL="INFO",
        WORKER_POLL_SECONDS="0.2",
        NOTIFY_PER_CHAT_INTERVAL="0",
        SHUTDOWN_GRACE_SECONDS=str(GRACE),
        INBOX_LEASE_SECONDS=str(LEASE),
    )
    bot = BotProcess(tmp_path, env)
    assert bot.cli("seed-demo").returncode == 0
    try:
        yield sandbox, server, bot
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        await server.close()


def kill_9(bot: BotProcess) -> asyncio.subprocess.Process:
    assert bot.process is not None
    bot.process.send_signal(signal.SIGKILL)
    return bot.process


def inbox_rows(tmp_path: Path) -> list[tuple[int, bool]]:
    with closing(sqlite3.connect(tmp_path / "data" / "emk.sqlite3")) as db:
        rows = db.execute("SELECT update_id, done_at IS NOT NULL FROM update_inbox ORDER BY 1")
        return [(int(update_id), bool(done)) for update_id, done in rows]


async def to_password(anna: SandboxUser) -> None:
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await anna.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(anna), "the login question")
    await anna.send("+79990000001")
    await until(lambda: "Введите пароль" in last_text(anna), "the password question")


async def test_a_password_in_flight_at_kill_9_is_answered_after_the_restart(
    served: Served, tmp_path: Path
) -> None:
    sandbox, server, bot = served
    await bot.start()
    anna = sandbox.user(user_id=791, first_name="Анна", phone="+79990000001")
    await to_password(anna)

    slow = server.hold("deleteMessage")  # the first thing the password step does
    await anna.send(PASSWORD)
    await until(lambda: slow.arrived >= 1, "the bot handling the password")
    password_update = max(server.deliveries)
    await until(lambda: server.acknowledged >= password_update, "the update acknowledged")
    process = kill_9(bot)
    assert await process.wait() == -signal.SIGKILL
    slow.release()
    assert not anna.current_reply_keyboard()  # no answer came
    assert (password_update, False) in inbox_rows(tmp_path)

    await bot.start()
    await until(lambda: bool(anna.current_reply_keyboard()), "the contact button after restart")
    assert all(m.text != PASSWORD for m in anna.messages)
    assert server.deliveries[password_update] == 1  # Telegram did not send it again
    await anna.press("Поделиться номером")
    await until(lambda: "Код из SMS" in last_buttons(anna), "the choice of the code")
    assert await bot.stop() == 0
    assert (password_update, True) in inbox_rows(tmp_path)
    assert PASSWORD not in bot.output()


def large_scan() -> bytes:
    """A real picture of about 2.5 MB (noise does not compress)."""
    rng = random.Random(7)
    size = (1000, 850)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def to_documents(bot: BotProcess, petrov: SandboxUser) -> None:
    async def wait_for(text: str) -> None:
        await until(lambda: text in last_text(petrov), repr(text))

    await petrov.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(petrov), "the welcome")
    await petrov.press("Войти через Госуслуги")
    await wait_for("Введите логин")
    await petrov.send("+79990000002")
    await wait_for("Введите пароль")
    await petrov.send(PASSWORD)
    await until(lambda: bool(petrov.current_reply_keyboard()), "the contact button")
    await petrov.press("Поделиться номером")
    await wait_for("SMS на номер")
    await petrov.send(bot.last_code())
    await wait_for("Главное меню")
    await petrov.press("Заявление на ЭМК")
    for number, spec in enumerate(FIELDS, start=1):
        if spec.kind == "consent":
            await until(lambda: "Даю согласие" in last_buttons(petrov), "the consent")
            await petrov.press("Даю согласие")
            continue
        await wait_for(f"шаг {number} из {len(FIELDS)}")
        value = PETROV_APPLICATION.get(spec.name, "")
        if spec.name == "phone":
            await petrov.press("Использовать номер учётной записи")
        elif spec.kind == "choice":
            await petrov.press(value)
        elif spec.optional and not value:
            await petrov.press("Пропустить")
        else:
            await petrov.send(value)
    await wait_for("Чтобы исправить значение")
    await petrov.press("Документы")
    await until(lambda: any("Паспорт" in b for b in last_buttons(petrov)), "the slots")
    await petrov.press("Паспорт")
    await wait_for("Пришлите")


async def test_sigterm_finishes_an_upload_in_flight_and_exits_within_the_grace(
    served: Served,
) -> None:
    sandbox, server, bot = served
    await bot.start()
    petrov = sandbox.user(user_id=792, first_name="Сергей", phone="+79990000002")
    await to_documents(bot, petrov)

    slow = server.hold("file")  # the download of the upload
    scan = large_scan()
    assert len(scan) > 2_400_000
    await petrov.send_document(scan, "паспорт.png")
    await until(lambda: slow.arrived >= 1, "the bot downloading the upload")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    await asyncio.sleep(1.5)
    assert bot.process.returncode is None  # still finishing the upload
    # Written after SIGTERM: this process takes no new updates, the next one answers it.
    await petrov.send("/menu")
    slow.release()
    assert await asyncio.wait_for(bot.process.wait(), GRACE + 10) == 0
    assert time.monotonic() - stopped_at < GRACE + EXIT_MARGIN
    assert "принят" in last_text(petrov), last_text(petrov)
    assert "Главное меню" not in last_text(petrov)

    await bot.start()
    await until(lambda: "Главное меню" in last_text(petrov), "the menu after the restart")
    assert await bot.stop() == 0
    assert "Traceback" not in bot.output()


async def test_sigterm_with_an_upload_stuck_past_the_grace_exits_and_the_restart_answers(
    served: Served,
) -> None:
    sandbox, server, bot = served
    await bot.start()
    petrov = sandbox.user(user_id=793, first_name="Сергей", phone="+79990000002")
    await to_documents(bot, petrov)

    stuck = server.hold("file")
    await petrov.send_document(large_scan(), "паспорт.png")
    await until(lambda: stuck.arrived >= 1, "the bot downloading the upload")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    assert await asyncio.wait_for(bot.process.wait(), GRACE + 10) == 0
    assert time.monotonic() - stopped_at < GRACE + EXIT_MARGIN
    assert "принят" not in last_text(petrov)

    stuck.release()
    await bot.start()
    await until(lambda: "принят" in last_text(petrov), "the upload answered after the restart")
    assert await bot.stop() == 0


async def test_the_webhook_answers_200_only_after_the_update_is_stored(
    served: Served, tmp_path: Path
) -> None:
    sandbox, _, bot = served
    port = free_port()
    bot.env.update(
        WEBHOOK_URL="https://emk.example.ru/telegram/hook",
        WEBHOOK_SECRET="s3cret-token",
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    await bot.start()
    await until(lambda: bool(sandbox.webhook), "setWebhook")
    anna = sandbox.user(user_id=794, first_name="Анна", phone="+79990000001")
    await anna.send("/start")  # the chat exists; the test posts the update as Telegram would
    update = {
        "update_id": 41,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": anna.chat_id, "type": "private", "first_name": "Анна"},
            "from": {"id": anna.chat_id, "is_bot": False, "first_name": "Анна"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    url = f"http://127.0.0.1:{port}/telegram/hook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
    async with aiohttp.ClientSession() as http:
        for _ in range(200):  # the server is up
            try:
                async with http.post(url, json={}, headers={}) as refused:
                    assert refused.status == 401
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)

        # The database is slow: another connection holds its write lock.
        with closing(sqlite3.connect(tmp_path / "data" / "emk.sqlite3", timeout=30)) as lock:
            lock.isolation_level = None
            lock.execute("BEGIN IMMEDIATE")
            posted = asyncio.create_task(http.post(url, json=update, headers=headers))
            await asyncio.sleep(2.5)
            assert not posted.done(), "Telegram got its answer before the update was stored"
            lock.execute("ROLLBACK")
        async with await posted as accepted:
            assert accepted.status == 200
        assert (41, False) in inbox_rows(tmp_path) or (41, True) in inbox_rows(tmp_path)

        # Telegram, unsure, sends it again: one answer.
        async with http.post(url, json=update, headers=headers) as again:
            assert again.status == 200
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome via webhook")
    await asyncio.sleep(1.0)
    welcomes = [m for m in anna.messages if m.from_bot and "Войти через Госуслуги" in m.buttons]
    assert len(welcomes) == 1
    assert await bot.stop() == 0
