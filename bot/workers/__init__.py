"""Background workers, run inside `run` and `demo`, or alone with `worker`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from aiogram import Bot
from aiogram.fsm.storage.redis import RedisStorage

from bot.app import Runtime
from bot.workers.booking import WaitlistWorker
from bot.workers.limits import LocalLimiter, RedisLimiter, SendLimiter
from bot.workers.notifier import Notifier
from bot.workers.processor import Processor
from services.core.notify import chats_of

log = logging.getLogger(__name__)


def build_limiter(runtime: Runtime) -> SendLimiter:
    """With Redis, the limiter every notifier process shares; else the process's own."""
    settings = runtime.settings
    if isinstance(runtime.storage, RedisStorage):
        return RedisLimiter(
            runtime.storage.redis,
            settings.notify_rate_per_second,
            settings.notify_per_chat_interval,
        )
    return LocalLimiter(settings.notify_rate_per_second, settings.notify_per_chat_interval)


def build_notifier(
    runtime: Runtime,
    bot: Bot,
    limiter: SendLimiter | None = None,
    chats: Collection[int] | None = None,
) -> Notifier:
    settings = runtime.settings
    return Notifier(
        runtime.uow_factory,
        bot,
        rate_per_second=settings.notify_rate_per_second,
        per_chat_interval=settings.notify_per_chat_interval,
        max_attempts=settings.notify_max_attempts,
        clock=runtime.ctx.gateways.clock,
        limiter=limiter or build_limiter(runtime),
        outage_backoff_max=settings.worker_outage_backoff_max_seconds,
        chats=chats,
    )


def build_processor(runtime: Runtime, bot: Bot) -> Processor:
    async def refresh_open_windows(account_id: int) -> None:
        """Redraw the person's open window (e.g. the status screen) after a change.

        A background update re-renders whatever window is on top; a push message
        goes out through the outbox whether or not a window is open.
        """
        async with runtime.uow_factory() as uow:
            chats = await chats_of(uow, account_id)
        for user_id, chat_id in chats:
            try:
                await runtime.bg_factory.bg(bot, user_id, chat_id, load=False).update({})
            except Exception:
                log.exception("could not refresh the window of chat %s", chat_id)

    settings = runtime.settings
    return Processor(
        runtime.uow_factory,
        runtime.ctx,
        delay_seconds=settings.processing_delay_seconds,
        poll_seconds=settings.worker_poll_seconds,
        on_change=refresh_open_windows,
        outage_backoff_max=settings.worker_outage_backoff_max_seconds,
    )


def build_waitlist_worker(runtime: Runtime) -> WaitlistWorker:
    settings = runtime.settings
    return WaitlistWorker(
        runtime.uow_factory,
        runtime.ctx,
        poll_seconds=settings.worker_poll_seconds,
        outage_backoff_max=settings.worker_outage_backoff_max_seconds,
    )


def start_workers(
    runtime: Runtime, bot: Bot, stop: asyncio.Event, *, chats: Collection[int] | None = None
) -> list[asyncio.Task[None]]:
    """The notifier (only to `chats`, if given), the processor and the waitlist worker."""
    notifier = build_notifier(runtime, bot, chats=chats)
    processor = build_processor(runtime, bot)
    waitlist = build_waitlist_worker(runtime)
    return [
        asyncio.create_task(
            notifier.run(stop, runtime.settings.worker_poll_seconds), name="notifier"
        ),
        asyncio.create_task(processor.run(stop), name="processor"),
        asyncio.create_task(waitlist.run(stop), name="waitlist"),
    ]
