"""Queue mode without HTTP: aiogram polling through SandboxSession, commands, idleness."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import BotCommand, BotCommandScopeChat, Message

from tgsandbox import Sandbox


async def test_polling_through_sandbox_session(sandbox: Sandbox, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text.upper())

    anna = sandbox.user(1, "Анна")
    await anna.send("queued before polling")
    assert sandbox.pending_updates == 1
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        await sandbox.wait_idle(quiet=0.1, timeout=5)
        await anna.send("second")
        await sandbox.wait_idle(quiet=0.1, timeout=5)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
    assert anna.bot_texts() == ["QUEUED BEFORE POLLING", "SECOND"]
    assert sandbox.pending_updates == 0


async def test_wait_idle_times_out_while_updates_wait(sandbox: Sandbox) -> None:
    await sandbox.user(1).send("nobody polls")
    with pytest.raises(TimeoutError, match="1 queued update"):
        await sandbox.wait_idle(quiet=0.01, timeout=0.1)


async def test_get_updates_offset_limit_and_allowed_updates(sandbox: Sandbox, bot: Bot) -> None:
    anna = sandbox.user(1)
    for text in ("a", "b", "c"):
        await anna.send(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["a", "b"]
    again = await bot.get_updates(limit=2)  # not confirmed yet: the same updates
    assert [u.update_id for u in again] == [u.update_id for u in first]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["c"]
    await bot.send_message(1, "menu")
    await anna.block_bot()  # a my_chat_member update
    await anna.unblock_bot()
    await anna.send("d")
    only_messages = await bot.get_updates(
        offset=rest[-1].update_id + 1, allowed_updates=["message"]
    )
    assert [u.message.text for u in only_messages] == ["d"]


async def test_commands_are_stored_per_scope(sandbox: Sandbox, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    scope = BotCommandScopeChat(chat_id=1)
    await bot.set_my_commands(
        [BotCommand(command="records", description="My records")], scope=scope, language_code="ru"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert [c.command for c in await bot.get_my_commands(scope=scope, language_code="ru")] == [
        "records"
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    from aiogram.exceptions import TelegramBadRequest

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    await bot.set_my_description("Electronic medical record")
    assert (await bot.get_my_description()).description == "Electronic medical record"
