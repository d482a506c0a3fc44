from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from tgsandbox import Sandbox


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_dispatcher() -> Dispatcher:
    """A tiny application exercising the sandbox the way real handlers do."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        payload = f" payload={command.args}" if command.args else ""
        await message.answer(
            f"<b>Welcome</b>, {message.from_user.first_name}!{payload}",
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text="Count: 0", callback_data="count:0")],
                    [InlineKeyboardButton(text="Site", url="https://example.org/help")],
                ]
            ),
        )

    @dp.callback_query(F.data.startswith("count:"))
    async def count(query: CallbackQuery) -> None:
        value = int(query.data.split(":")[1]) + 1
        await query.message.edit_text(
            f"Counted {value}",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=f"Count: {value}", callback_data=f"count:{value}")]
                ]
            ),
        )
        await query.answer(f"now {value}", show_alert=value >= 2)

    @dp.message(Command("secret"))
    async def secret(message: Message) -> None:
        await message.delete()
        await message.answer("I removed your secret")

    @dp.message(Command("report"))
    async def report(message: Message, bot: Bot) -> None:
        await bot.send_chat_action(message.chat.id, "upload_document")
        await message.answer_document(
            BufferedInputFile(b"%PDF-1.4 report", filename="report.pdf"), caption="Your report"
        )

    @dp.message(Command("phone"))
    async def phone(message: Message) -> None:
        await message.answer(
            "Share your phone",
            reply_markup=ReplyKeyboardMarkup(
                keyboard=[
                    [KeyboardButton(text="Send phone", request_contact=True)],
                    [KeyboardButton(text="Cancel")],
                ],
                resize_keyboard=True,
            ),
        )

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        own = message.contact.user_id == message.from_user.id
        await message.answer(
            f"Got {message.contact.phone_number} own={own}", reply_markup=ReplyKeyboardRemove()
        )

    @dp.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        data = await bot.download(message.document)
        assert isinstance(data, io.BytesIO)
        content = data.read()
        await message.answer(
            f"{message.document.file_name}: {len(content)} bytes, starts {content[:4]!r}"
        )

    @dp.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        largest = message.photo[-1]
        data = await bot.download(largest)
        assert isinstance(data, io.BytesIO)
        is_jpeg = data.read()[:2] == b"\xff\xd8"
        await message.answer(f"photo {largest.width}x{largest.height}, jpeg={is_jpeg}")

    @dp.message(F.text == "Cancel")
    async def cancel(message: Message) -> None:
        await message.answer("Cancelled", reply_markup=ReplyKeyboardRemove())

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text[:1000]}")

    @dp.message()
    async def other(message: Message) -> None:
        await message.answer(f"unexpected {message.content_type.value}")

    return dp


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(clock=clock)


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    bot = sandbox.create_bot()
    yield bot
    await bot.session.close()


@pytest.fixture
def app(sandbox: Sandbox, bot: Bot) -> Dispatcher:
    dp = build_dispatcher()
    sandbox.attach(dp, bot)
    return dp
