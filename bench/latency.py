"""A simulated Bot API round trip: every request waits `latency` seconds, then runs."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from tgsandbox import Sandbox, SandboxSession


class DelayedSession(SandboxSession):
    """``SandboxSession`` with a delay before each request (the network to Telegram and back).

    ``latency`` may be changed between phases of a run (0 while people are set up).
    """

    def __init__(self, sandbox: Sandbox, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(sandbox, **kwargs)
        self.latency = latency
        self.calls = 0

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        self.calls += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return await super().make_request(bot, method, timeout)


def delayed_bot(sandbox: Sandbox, latency: float = 0.0) -> tuple[Bot, DelayedSession]:
    """A Bot talking to `sandbox` through a `DelayedSession`."""
    session = DelayedSession(sandbox, latency)
    return Bot(sandbox.token, session=session), session
