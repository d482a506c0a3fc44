"""The whole trip: a laboratory's signed bundle → the API inside `python -m bot run` → the push.

The bot is a separate process talking to the sandbox's Bot API server over HTTP,
with API_PORT set so that `run` serves the laboratories' API too. Анна signs in
through the sandbox (which binds her Telegram chat), then `python -m bot demo-lab`
sends a glucose result for her СНИЛС, and the push arrives in her chat.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_run_process import BotProcess, free_port, last_buttons, last_text, until
from tgsandbox import Sandbox, serve_http

PASSWORD = "Demo-Passw0rd"


@pytest.fixture
async def served_with_api(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, BotProcess, int]]:
    sandbox = Sandbox()
    server = await serve_http(sandbox)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env.update(
        BOT_TOKEN=sandbox.token,
        TELEGRAM_API_BASE=server.url,
        DATA_DIR=str(tmp_path / "data"),
        LOG_LEVEL="INFO",
        WORKER_POLL_SECONDS="0.2",
        NOTIFY_PER_CHAT_INTERVAL="0",
        API_HOST="127.0.0.1",
        API_PORT=str(port),
    )
    bot = BotProcess(tmp_path, env)
    assert bot.cli("seed-demo").returncode == 0
    try:
        yield sandbox, bot, port
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        await server.close()


async def _demo_lab(bot: BotProcess, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo-lab",
        *args,
        cwd=bot.tmp_path,
        env=bot.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_signed_bundle_from_the_demo_lab_reaches_annas_chat(
    served_with_api: tuple[Sandbox, BotProcess, int],
) -> None:
    sandbox, bot, port = served_with_api
    await bot.start()
    anna = sandbox.user(user_id=7801, first_name="Анна", phone="+79990000001")
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await anna.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(anna), "the login question")
    await anna.send("+79990000001")
    await until(lambda: "Введите пароль" in last_text(anna), "the password question")
    await anna.send(PASSWORD)
    await until(lambda: bool(anna.current_reply_keyboard()), "the contact button")
    await anna.press("Поделиться номером")
    await until(lambda: "Код из SMS" in last_buttons(anna), "the choice of the code")
    await anna.press("Код из SMS")
    await until(lambda: "Код подтверждения" in bot.output(), "the SMS in the console")
    await anna.send(bot.last_code())
    await until(lambda: "Главное меню" in last_text(anna), "the main menu")
    await until(lambda: f":{port}" in bot.output(), "the lab API listening")

    status, out, err = await _demo_lab(
        bot, "--snils", "11223344595", "--test", "glucose", "--url", f"http://127.0.0.1:{port}"
    )

    assert status == 0, (out, err)
    assert out.startswith("200 "), out
    assert '"status": "final"' in out

    def push() -> list[str] | None:
        for message in anna.messages:
            if message.from_bot and (message.text or "").startswith("Готов результат: Глюкоза от"):
                return message.buttons
        return None

    await until(lambda: push() is not None, "the push about the result")
    assert push() == ["Открыть результат"]
    [text] = [m.text for m in anna.messages if m.from_bot and "Готов результат" in (m.text or "")]
    # No values on a lock screen.
    assert text is not None and "5.8" not in text and "5,8" not in text

    # The demo laboratory registered itself once; a second run reuses its key.
    status, out, err = await _demo_lab(
        bot, "--snils", "112-233-445 95", "--test", "cbc", "--url", f"http://127.0.0.1:{port}"
    )
    assert status == 0, (out, err)
    await until(
        lambda: any("Общий анализ крови" in (m.text or "") for m in anna.messages if m.from_bot),
        "the second push",
    )
    assert (bot.tmp_path / "data" / "demo-lab" / "private_key.pem").exists()

    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    assert "11223344595" not in log


async def test_in_webhook_mode_the_api_is_served_by_the_webhook_server(
    served_with_api: tuple[Sandbox, BotProcess, int],
) -> None:
    import aiohttp

    sandbox, bot, _ = served_with_api
    port = free_port()
    bot.env.update(
        WEBHOOK_URL="https://emk.example.ru/telegram/hook",
        WEBHOOK_SECRET="s3cret-token",
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    await bot.start()
    await until(lambda: bool(sandbox.webhook), "setWebhook")
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/openapi.json") as document:
            assert document.status == 200
            assert "/api/v1/lab-results" in (await document.json())["paths"]
        async with http.post(f"{base}/api/v1/lab-results", json={}) as refused:
            assert refused.status == 401
            assert (await refused.json())["error"] == "token_missing"
        # The webhook itself answers as before.
        async with http.post(f"{base}/telegram/hook", json={"update_id": 1}) as hook:
            assert hook.status == 401
            assert await hook.text() == "Unauthorized"
    assert await bot.stop() == 0
    assert "Traceback" not in bot.output()
