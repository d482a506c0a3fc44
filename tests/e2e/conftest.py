"""The end-to-end tests' shared fixture: `python -m bot run` against the HTTP sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_run_process import BotProcess
from tgsandbox import Sandbox, serve_http


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, BotProcess]]:
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
    )
    bot = BotProcess(tmp_path, env)
    assert bot.cli("seed-demo").returncode == 0
    try:
        yield sandbox, bot
    finally:
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        await server.close()
