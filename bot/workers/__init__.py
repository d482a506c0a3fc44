"""Background workers, run inside `run` and `demo`, or alone with `worker`."""

from __future__ import annotations

import asyncio

from aiogram import Bot

from bot.app import Runtime
from bot.workers.notifier import Notifier


def build_notifier(runtime: Runtime, bot: Bot) -> Notifier:
    settings = runtime.settings
    return Notifier(
        runtime.uow_factory,
        bot,
        rate_per_second=settings.notify_rate_per_second,
        per_chat_interval=settings.notify_per_chat_interval,
        max_attempts=settings.notify_max_attempts,
    )


def start_workers(runtime: Runtime, bot: Bot, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    notifier = build_notifier(runtime, bot)
    return [
        asyncio.create_task(
            notifier.run(stop, runtime.settings.worker_poll_seconds), name="notifier"
        ),
    ]
