"""The sandbox as a Bot API server over HTTP, driven by aiogram's real AiohttpSession."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import LogOut
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tgsandbox import FloodLimits, Sandbox, SandboxHTTPServer, serve_http


@pytest.fixture
async def server(sandbox: Sandbox) -> AsyncIterator[SandboxHTTPServer]:
    server = await serve_http(sandbox)
    yield server
    await server.close()


@pytest.fixture
async def http_bot(sandbox: Sandbox, server: SandboxHTTPServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    bot = Bot(sandbox.token, session=session)
    yield bot
    await session.close()


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Open record", callback_data="record:1")]]
    )


async def test_methods_over_http(
    sandbox: Sandbox, server: SandboxHTTPServer, http_bot: Bot
) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    me = await http_bot.get_me()
    assert (me.id, me.username, me.is_bot) == (sandbox.bot_id, "sandbox_bot", True)

    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    sent = await http_bot.send_message(
        1, "<b>Records</b>", parse_mode="HTML", reply_markup=keyboard()
    )
    assert sent.bot is http_bot
    assert sent.text == "Records" and sent.entities is not None
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "record:1"
    assert anna.last.buttons == ["Open record"]

    document = await http_bot.send_document(
        1, BufferedInputFile(b"%PDF-1.4 extract", "extract.pdf"), caption="Extract"
    )
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "extract.pdf",
        "application/pdf",
    )
    assert anna.files_received()[0].data == b"%PDF-1.4 extract"
    downloaded = await http_bot.download(document.document.file_id)
    assert isinstance(downloaded, io.BytesIO) and downloaded.read() == b"%PDF-1.4 extract"

    uploaded = await anna.send_document(b"user file", "scan.txt")
    assert uploaded.document is not None
    file = await http_bot.get_file(uploaded.document.file_id)
    assert file.file_path is not None and file.file_path.startswith("documents/")
    data = await http_bot.download_file(file.file_path)
    assert isinstance(data, io.BytesIO) and data.read() == b"user file"

    edited = await http_bot.edit_message_text("Records (1)", chat_id=1, message_id=sent.message_id)
    assert edited.edit_date is not None and anna.last.message_id == document.message_id


async def test_refusals_over_http(
    sandbox: Sandbox, server: SandboxHTTPServer, http_bot: Bot
) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    with pytest.raises(TelegramBadRequest) as exc:
        await http_bot.send_message(1, "x" * 4097)
    assert type(exc.value) is TelegramBadRequest
    assert exc.value.message == "Bad Request: message is too long"
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await http_bot.send_message(
            1,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="b", callback_data="d" * 65)]]
            ),
        )
    await anna.block_bot()
    with pytest.raises(TelegramForbiddenError) as fexc:
        await http_bot.send_message(1, "x")
    assert fexc.value.message == "Forbidden: bot was blocked by the user"
    await anna.unblock_bot()

    sandbox.flood = FloodLimits(per_chat_per_second=1, per_chat_burst=1)
    await http_bot.send_message(1, "a")
    with pytest.raises(TelegramRetryAfter) as rexc:
        await http_bot.send_message(1, "b")
    assert rexc.value.retry_after == 1
    sandbox.flood = None

    sandbox.fail_next(1, chat_id=1)
    with pytest.raises(TelegramNetworkError):
        await http_bot.send_message(1, "lost")
    await http_bot.send_message(1, "after the failure")

    with pytest.raises(TelegramServerError, match="does not implement"):
        await http_bot(LogOut())

    stranger = Bot("42:wrong-token", session=http_bot.session)
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()


async def test_raw_http_json_form_and_files(sandbox: Sandbox, server: SandboxHTTPServer) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    base = f"{server.url}/bot{sandbox.token}"
    async with aiohttp.ClientSession() as client:
        body = {
            "chat_id": 1,
            "text": "json body",
            "reply_markup": keyboard().model_dump(exclude_none=True),
        }
        async with client.post(f"{base}/sendMessage", json=body) as resp:
            answer = await resp.json()
        assert resp.status == 200 and answer["ok"] is True
        assert answer["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Open record"

        form = aiohttp.FormData()
        form.add_field("chat_id", "1")
        form.add_field("document", b"plain upload", filename="plain.txt")
        async with client.post(f"{base}/sendDocument", data=form) as resp:
            answer = await resp.json()
        assert answer["result"]["document"]["file_name"] == "plain.txt"

        async with client.get(f"{base}/sendMessage", params={"chat_id": "1", "text": ""}) as resp:
            answer = await resp.json()
        assert resp.status == 400
        assert answer == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message text is empty",
        }

        async with client.get(f"{base}/noSuchMethod") as resp:
            assert resp.status == 404
        async with client.get(f"{server.url}/bot1:bad/getMe") as resp:
            assert resp.status == 401
            assert (await resp.json())["description"] == "Unauthorized"
        async with client.get(f"{server.url}/file/bot{sandbox.token}/documents/none") as resp:
            assert resp.status == 404
    assert anna.bot_texts() == ["json body"]
    assert anna.files_received()[0].data == b"plain upload"


async def test_get_updates_long_polling_and_conflict(
    sandbox: Sandbox, server: SandboxHTTPServer, http_bot: Bot
) -> None:
    anna = sandbox.user(1, "Анна")
    waiting = asyncio.create_task(http_bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await anna.send("wake up")
    updates = await asyncio.wait_for(waiting, 2)
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert sandbox.pending_updates == 0

    first = asyncio.create_task(http_bot.get_updates(offset=updates[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(http_bot.get_updates(timeout=0))
    assert await second == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)


async def test_polling_dispatcher_end_to_end(
    sandbox: Sandbox, server: SandboxHTTPServer, http_bot: Bot
) -> None:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}", reply_markup=keyboard())

    @dp.callback_query(F.data == "record:1")
    async def open_record(query: CallbackQuery) -> None:
        await query.message.edit_text("Record #1")
        await query.answer("opened")

    polling = asyncio.create_task(
        dp.start_polling(http_bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        anna = sandbox.user(1, "Анна")
        await anna.send("hello")  # returns once queued
        await sandbox.wait_idle(quiet=0.2, timeout=5)
        assert anna.bot_texts() == ["echo: hello"]
        await anna.press("Open record")
        await sandbox.wait_idle(quiet=0.2, timeout=5)
        assert anna.last.text == "Record #1"
        assert anna.callback_answers == ["opened"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
    assert json.loads(json.dumps(sandbox.requests[0].params)) is not None
