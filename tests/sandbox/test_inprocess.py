"""The sandbox driving a real aiogram Dispatcher in process."""

from __future__ import annotations

import io
import re

import pytest
from aiogram import Bot, Dispatcher
from PIL import Image

from tgsandbox import Sandbox, SandboxSession

pytestmark = pytest.mark.usefixtures("app")


def png(width: int = 1000, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_echo_and_chat_order(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("hello")
    await anna.send("again")
    assert [(m.from_bot, m.text) for m in anna.messages] == [
        (False, "hello"),
        (True, "echo: hello"),
        (False, "again"),
        (True, "echo: again"),
    ]
    assert [m.message_id for m in anna.messages] == [1, 2, 3, 4]
    assert anna.last.text == "echo: again"
    assert anna.bot_texts() == ["echo: hello", "echo: again"]


async def test_start_command_with_deep_link_and_html(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/start ref42")
    first = anna.messages[0]
    assert first.raw["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    # The HTML is parsed: the person sees plain text, the bold part is an entity.
    assert anna.last.text == "Welcome, Анна! payload=ref42"
    assert anna.last.raw["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert anna.last.keyboard == [["Count: 0"], ["Site"]]


async def test_inline_button_edits_message(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/start")
    menu_id = anna.last.message_id
    await anna.press("Count")
    assert anna.last.message_id == menu_id
    assert anna.last.text == "Counted 1"
    assert anna.last.edited
    assert anna.last.buttons == ["Count: 1"]
    await anna.press(re.compile(r"Count: \d"))
    assert anna.last.text == "Counted 2"
    assert anna.callback_answers == ["now 1", "now 2"]
    assert anna.alerts == ["now 2"]
    assert not sandbox.unanswered_callback_queries()
    assert len(anna.bot_messages) == 1


async def test_url_button_opens_link_and_sends_nothing(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/start")
    before = sandbox.count()
    assert await anna.press("Site") == "https://example.org/help"
    assert sandbox.count() == before


async def test_press_reports_visible_buttons(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/start")
    with pytest.raises(AssertionError, match=r"(?s)no visible button matches .Nope.*Count: 0"):
        await anna.press("Nope")


async def test_press_refuses_ambiguous_label(sandbox: Sandbox, bot: Bot) -> None:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Yes, delete", callback_data="a"),
                InlineKeyboardButton(text="Yes, keep", callback_data="b"),
            ]
        ]
    )
    await bot.send_message(1, "Sure?", reply_markup=keyboard)
    with pytest.raises(AssertionError, match="2 buttons match 'Yes'"):
        await anna.press("Yes")


async def test_press_refuses_button_of_deleted_message(sandbox: Sandbox, bot: Bot) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/start")
    menu = anna.last
    await bot.delete_message(1, menu.message_id)
    assert menu.message_id not in [m.message_id for m in anna.messages]
    with pytest.raises(AssertionError, match="is gone"):
        await anna.press("Count", message=menu)
    with pytest.raises(AssertionError, match="no visible button"):
        await anna.press("Count")


async def test_handler_deletes_user_message(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/secret 1234")
    assert [(m.from_bot, m.text) for m in anna.messages] == [(True, "I removed your secret")]


async def test_bot_sends_document(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("/report")
    (received,) = anna.files_received()
    assert received.name == "report.pdf"
    assert received.mime_type == "application/pdf"
    assert received.data == b"%PDF-1.4 report"
    assert anna.last.text == "Your report"
    assert anna.chat_actions == ["upload_document"]


async def test_bot_downloads_uploaded_document(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    sent = await anna.send_document(b"%PDF-1.7 analysis results", "analysis.pdf")
    assert sent.document is not None and sent.document.mime_type == "application/pdf"
    assert anna.last.text == "analysis.pdf: 25 bytes, starts b'%PDF'"


async def test_photo_is_reencoded_in_sizes(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    message = await anna.send_photo(png(1000, 600))
    sizes = message.raw["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [
        (90, 54),
        (320, 192),
        (800, 480),
        (1000, 600),
    ]
    assert anna.last.text == "photo 1000x600, jpeg=True"


async def test_reply_keyboard_contact_request(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна", phone="+79990000001")
    await anna.send("/phone")
    assert anna.last.reply_keyboard == ["Send phone", "Cancel"]
    assert anna.current_reply_keyboard() == ["Send phone", "Cancel"]
    await anna.press("Send phone")
    contact = anna.messages[-2].contact
    assert contact == {"phone_number": "+79990000001", "first_name": "Анна", "user_id": 1}
    assert anna.last.text == "Got +79990000001 own=True"
    assert anna.last.removes_reply_keyboard
    assert anna.current_reply_keyboard() is None


async def test_reply_keyboard_text_button_and_foreign_contact(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна", phone="+79990000001")
    await anna.send("/phone")
    await anna.press("Cancel")
    assert anna.messages[-2].text == "Cancel"
    assert anna.last.text == "Cancelled"
    await anna.share_contact("+79991112233", own=False, user_id=77)
    assert anna.last.text == "Got +79991112233 own=False"
    await anna.share_contact("+79991112234", own=False)
    assert "user_id" not in anna.messages[-2].contact


async def test_unexpected_input(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send_sticker()
    assert anna.last.text == "unexpected sticker"
    await anna.send_location()
    assert anna.last.text == "unexpected location"


async def test_block_and_unblock_emit_my_chat_member(sandbox: Sandbox, bot: Bot) -> None:
    seen: list[tuple[str, str]] = []
    dp = Dispatcher()

    @dp.my_chat_member()
    async def member(event) -> None:  # type: ignore[no-untyped-def]
        seen.append((event.old_chat_member.status, event.new_chat_member.status))

    sandbox.attach(dp, bot)
    anna = sandbox.user(1, "Анна")
    await anna.block_bot()
    await anna.unblock_bot()
    assert seen == [("member", "kicked"), ("kicked", "member")]


async def test_handler_errors_reach_the_test(sandbox: Sandbox, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def broken(message) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    sandbox.attach(dp, bot)
    with pytest.raises(RuntimeError, match="boom"):
        await sandbox.user(1).send("x")


async def test_handler_returning_a_method_is_executed(sandbox: Sandbox, bot: Bot) -> None:
    from aiogram.methods import SendMessage

    dp = Dispatcher()

    @dp.message()
    async def answer(message):  # type: ignore[no-untyped-def]
        return SendMessage(chat_id=message.chat.id, text="as webhook answer")

    sandbox.attach(dp, bot)
    anna = sandbox.user(1)
    await anna.send("x")
    assert anna.last.text == "as webhook answer"


async def test_results_are_bound_to_the_bot(sandbox: Sandbox, bot: Bot) -> None:
    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    sent = await bot.send_message(1, "bound")
    assert sent.bot is bot
    assert sent.from_user is not None and sent.from_user.id == sandbox.bot_id
    assert sent.from_user.is_bot and sent.chat.id == 1 and sent.chat.type == "private"
    edited = await sent.edit_text("bound and edited")  # a shortcut needs the bound bot
    assert edited.edit_date is not None
    assert anna.last.text == "bound and edited"


async def test_resend_document_by_file_id(sandbox: Sandbox, bot: Bot) -> None:
    anna = sandbox.user(1, "Анна")
    sent = await anna.send_document(b"data", "a.txt")
    assert sent.document is not None
    again = await bot.send_document(1, sent.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == sent.document.file_unique_id
    assert anna.files_received()[-1].data == b"data"


async def test_fs_input_file_and_download_to_path(sandbox: Sandbox, bot: Bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aiogram.types import FSInputFile

    source = tmp_path / "card.txt"
    source.write_bytes(b"medical card")
    sandbox.user(1, "Анна")
    await sandbox.user(1).send("hi")
    sent = await bot.send_document(1, FSInputFile(source))
    assert sent.document is not None and sent.document.file_name == "card.txt"
    target = tmp_path / "copy.txt"
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    await bot.download_file(file.file_path, destination=target)
    assert target.read_bytes() == b"medical card"


async def test_attach_refuses_a_bot_that_talks_to_telegram(sandbox: Sandbox) -> None:
    from tgsandbox import SandboxError

    real = Bot(sandbox.token)
    try:
        with pytest.raises(SandboxError, match="real Telegram"):
            sandbox.attach(Dispatcher(), real)
    finally:
        await real.session.close()
    assert isinstance(sandbox.create_bot().session, SandboxSession)


async def test_reply_keyboard_belongs_to_its_message(sandbox: Sandbox, bot: Bot) -> None:
    from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

    anna = sandbox.user(1, "Анна")
    await anna.send("hi")
    first = await bot.send_message(
        1, "choose", reply_markup=ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="A")]])
    )
    await bot.send_message(1, "inline messages keep it")
    assert anna.current_reply_keyboard() == ["A"]
    await bot.delete_message(1, first.message_id)
    assert anna.current_reply_keyboard() is None

    await bot.send_message(
        1, "again", reply_markup=ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="B")]])
    )
    removal = await bot.send_message(1, "...", reply_markup=ReplyKeyboardRemove())
    await bot.delete_message(1, removal.message_id)
    assert anna.current_reply_keyboard() is None


async def test_long_text_is_split_like_a_client_does(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна")
    words = ("слово " * 1000).strip()  # 5999 characters
    await anna.send(words)
    sent = [m.text for m in anna.messages if not m.from_bot]
    assert len(sent) == 2
    assert all(text is not None and len(text) <= 4096 for text in sent)
    assert " ".join(t for t in sent if t) == words
    assert anna.bot_texts() == [f"echo: {t[:1000]}" for t in sent if t]
