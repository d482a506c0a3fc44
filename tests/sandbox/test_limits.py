"""Flood control, injected network failures and the request log."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter

from tgsandbox import FloodLimits, Sandbox

from .conftest import FakeClock


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(
        clock=clock,
        flood=FloodLimits(
            global_per_second=5, global_burst=5, per_chat_per_second=1, per_chat_burst=2
        ),
    )


async def open_chats(sandbox: Sandbox, *ids: int) -> None:
    for user_id in ids:
        await sandbox.user(user_id).send("hi")


async def test_per_chat_limit_answers_retry_after(
    sandbox: Sandbox, bot: Bot, clock: FakeClock
) -> None:
    await open_chats(sandbox, 1, 2)
    await bot.send_message(1, "one")
    await bot.send_message(1, "two")  # a burst of two is allowed
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(1, "three")
    assert type(exc.value) is TelegramRetryAfter
    assert exc.value.retry_after == 1
    assert "Original description: Too Many Requests: retry after 1" in exc.value.message
    assert "in chat 1" in exc.value.message
    await bot.send_message(2, "other chat is not limited")
    # Deleting and answering callbacks do not count as messages.
    await bot.delete_message(2, 2)
    clock.advance(1.0)
    await bot.send_message(1, "three")
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("edits count too", chat_id=1, message_id=2)
    refused = sandbox.requests_for("sendMessage", chat_id=1, ok=False)
    assert [r.error for r in refused] == ["Too Many Requests: retry after 1"]


async def test_retry_after_grows_with_the_wait(clock: FakeClock) -> None:
    sandbox = Sandbox(
        clock=clock,
        flood=FloodLimits(global_per_second=None, per_chat_per_second=0.2, per_chat_burst=1),
    )
    bot = sandbox.create_bot()
    await open_chats(sandbox, 1)
    await bot.send_message(1, "one")
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(1, "two")
    assert exc.value.retry_after == 5
    clock.advance(4.5)
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(1, "two")
    assert exc.value.retry_after == 1


async def test_global_limit(sandbox: Sandbox, bot: Bot, clock: FakeClock) -> None:
    await open_chats(sandbox, *range(1, 8))
    for chat_id in range(1, 6):
        await bot.send_message(chat_id, "broadcast")
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(6, "broadcast")
    assert exc.value.retry_after == 1
    clock.advance(0.2)  # one token back at 5 per second
    await bot.send_message(6, "broadcast")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(7, "broadcast")


async def test_limits_are_off_by_default(clock: FakeClock) -> None:
    sandbox = Sandbox(clock=clock)
    bot = sandbox.create_bot()
    await open_chats(sandbox, 1)
    for n in range(50):
        await bot.send_message(1, f"m{n}")
    assert sandbox.count("sendMessage", chat_id=1) == 50


async def test_network_failures_before_and_after_execution(sandbox: Sandbox, bot: Bot) -> None:
    anna = sandbox.user(1)
    await anna.send("hi")
    sandbox.fail_next(2, chat_id=1)
    for _ in range(2):
        with pytest.raises(TelegramNetworkError) as exc:
            await bot.send_message(1, "lost")
        assert exc.value.message == "ServerDisconnectedError: Server disconnected"
    assert anna.bot_texts() == []
    await bot.send_message(1, "delivered")
    assert anna.bot_texts() == ["delivered"]

    sandbox.fail_next(method="sendMessage", after_execution=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(1, "sent but the answer was lost")
    assert anna.bot_texts() == ["delivered", "sent but the answer was lost"]


async def test_request_log(sandbox: Sandbox, bot: Bot, clock: FakeClock) -> None:
    await open_chats(sandbox, 1)
    await bot.get_me()
    await bot.send_message(1, "a")
    clock.advance(0.5)
    await bot.send_chat_action(1, "typing")
    assert [(r.method, r.chat_id, r.at, r.ok) for r in sandbox.requests] == [
        ("getMe", None, 1000.0, True),
        ("sendMessage", 1, 1000.0, True),
        ("sendChatAction", 1, 1000.5, True),
    ]
    assert sandbox.requests[1].params["text"] == "a"
    assert sandbox.count() == 3
    assert sandbox.count("sendmessage") == 1
