"""Telegram's refusals: same wording, same aiogram exception classes as a real response."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Close
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    URLInputFile,
)

from tgsandbox import ApiError, Sandbox, SandboxUser, UnsupportedMethodError

from .conftest import FakeClock

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def kb(data: str = "x") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="B", callback_data=data)]]
    )


@pytest.fixture
async def anna(sandbox: Sandbox) -> SandboxUser:
    user = sandbox.user(1, "Анна")
    await user.send("hi")  # opens the chat; no dispatcher attached: the update is queued
    return user


def refused(exc: pytest.ExceptionInfo[Exception], kind: type[Exception], message: str) -> None:
    assert type(exc.value) is kind
    assert exc.value.message == message  # type: ignore[attr-defined]
    assert str(exc.value) == f"Telegram server says - {message}"


@pytest.mark.usefixtures("anna")
async def test_text_limits(bot: Bot) -> None:
    await bot.send_message(1, "я" * 4096)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "я" * 4097)
    refused(exc, TelegramBadRequest, "Bad Request: message is too long")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "")
    refused(exc, TelegramBadRequest, "Bad Request: message text is empty")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, " \n ")
    refused(exc, TelegramBadRequest, "Bad Request: message text is empty")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "<b></b>", parse_mode="HTML")
    refused(exc, TelegramBadRequest, "Bad Request: message text is empty")
    # 4096 is counted after entities parsing and in UTF-16 code units
    await bot.send_message(1, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1, "😀" * 2049)


@pytest.mark.usefixtures("anna")
async def test_caption_limit(bot: Bot) -> None:
    document = BufferedInputFile(b"x", "x.txt")
    await bot.send_document(1, document, caption="c" * 1024)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_document(1, document, caption="c" * 1025)
    refused(exc, TelegramBadRequest, "Bad Request: message caption is too long")


@pytest.mark.usefixtures("anna")
async def test_inline_keyboard_checks(bot: Bot) -> None:
    await bot.send_message(1, "ok", reply_markup=kb("d" * 64))
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "x", reply_markup=kb("d" * 65))
    refused(exc, TelegramBadRequest, "Bad Request: BUTTON_DATA_INVALID")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "x", reply_markup=kb("ж" * 33))  # 66 bytes in UTF-8
    refused(exc, TelegramBadRequest, "Bad Request: BUTTON_DATA_INVALID")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "x", reply_markup=kb(""))
    refused(
        exc,
        TelegramBadRequest,
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
        "inline keyboard",
    )
    local = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Open", url="http://localhost:8000/x")]]
    )
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "x", reply_markup=local)
    refused(
        exc,
        TelegramBadRequest,
        "Bad Request: inline keyboard button URL 'http://localhost:8000/x' is invalid: "
        "Wrong HTTP URL",
    )


@pytest.mark.usefixtures("anna")
async def test_parse_errors(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "line<br>next", parse_mode="HTML")
    refused(
        exc,
        TelegramBadRequest,
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 4',
    )
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "Итого 5.5", parse_mode="MarkdownV2")
    refused(
        exc,
        TelegramBadRequest,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with "
        "the preceding '\\'",
    )


async def test_edit_refusals(bot: Bot, anna: SandboxUser) -> None:
    sent = await bot.send_message(1, "menu", reply_markup=kb())
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_text(
            "menu", chat_id=1, message_id=sent.message_id, reply_markup=kb()
        )
    refused(exc, TelegramBadRequest, NOT_MODIFIED)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_reply_markup(
            chat_id=1, message_id=sent.message_id, reply_markup=kb()
        )
    refused(exc, TelegramBadRequest, NOT_MODIFIED)
    # Editing the text without reply_markup drops the inline keyboard, as in Telegram.
    await bot.edit_message_text("menu", chat_id=1, message_id=sent.message_id)
    assert anna.last.buttons == []

    user_message = anna.messages[0]
    assert not user_message.from_bot
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_text("x", chat_id=1, message_id=user_message.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: message can't be edited")

    await bot.delete_message(1, sent.message_id)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_text("x", chat_id=1, message_id=sent.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: message to edit not found")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.delete_message(1, sent.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: message to delete not found")


@pytest.mark.usefixtures("anna")
async def test_edit_kind_mismatch(bot: Bot) -> None:
    text = await bot.send_message(1, "text")
    document = await bot.send_document(1, BufferedInputFile(b"x", "x.txt"))
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_text("new", chat_id=1, message_id=document.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: there is no text in the message to edit")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_caption(chat_id=1, message_id=text.message_id, caption="c")
    refused(exc, TelegramBadRequest, "Bad Request: there is no caption in the message to edit")
    media = InputMediaDocument(media=BufferedInputFile(b"y", "y.txt"))
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.edit_message_media(media, chat_id=1, message_id=text.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: there is no media in the message to edit")
    edited = await bot.edit_message_media(media, chat_id=1, message_id=document.message_id)
    assert edited.document is not None and edited.document.file_name == "y.txt"
    await bot.edit_message_caption(chat_id=1, message_id=document.message_id, caption="c")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(chat_id=1, message_id=document.message_id, caption="c")


async def test_old_messages_cannot_be_deleted(
    bot: Bot, anna: SandboxUser, clock: FakeClock
) -> None:
    sent = await bot.send_message(1, "old")
    clock.advance(48 * 3600 + 1)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.delete_message(1, sent.message_id)
    refused(exc, TelegramBadRequest, "Bad Request: message can't be deleted for everyone")
    assert await bot.delete_messages(1, [sent.message_id, 999]) is True
    assert anna.last.text == "old"


async def test_chat_refusals(bot: Bot, sandbox: Sandbox, anna: SandboxUser) -> None:
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(424242, "x")
    refused(exc, TelegramBadRequest, "Bad Request: chat not found")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message("@someone", "x")
    refused(exc, TelegramBadRequest, "Bad Request: chat not found")

    sandbox.user(2, "Борис")  # exists but never wrote to the bot
    with pytest.raises(TelegramForbiddenError) as fexc:
        await bot.send_message(2, "x")
    refused(fexc, TelegramForbiddenError, "Forbidden: bot can't initiate conversation with a user")

    await anna.block_bot()
    assert sandbox.blocked_users == [1]
    with pytest.raises(TelegramForbiddenError) as fexc:
        await bot.send_message(1, "x")
    refused(fexc, TelegramForbiddenError, "Forbidden: bot was blocked by the user")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(1, "typing")
    await anna.unblock_bot()
    await bot.send_message(1, "welcome back")


async def test_callback_answer_refusals(bot: Bot, sandbox: Sandbox, anna: SandboxUser) -> None:
    await bot.send_message(1, "menu", reply_markup=kb("go"))
    await anna.press("B")  # queued: no dispatcher attached
    (query,) = sandbox.unanswered_callback_queries()
    assert await bot.answer_callback_query(query.id, text="done") is True
    message = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.answer_callback_query(query.id)
    refused(exc, TelegramBadRequest, message)
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.answer_callback_query("123")
    refused(exc, TelegramBadRequest, message)
    assert anna.callback_answers == ["done"]


@pytest.mark.usefixtures("anna")
async def test_file_refusals(bot: Bot, sandbox: Sandbox) -> None:
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_document(1, "no-such-file-id")
    refused(exc, TelegramBadRequest, "Bad Request: wrong file identifier/HTTP URL specified")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_document(1, "https://example.org/a.pdf")
    refused(exc, TelegramBadRequest, "Bad Request: failed to get HTTP URL content")
    with pytest.raises(TelegramNetworkError, match="no network access"):
        await bot.send_document(1, URLInputFile("https://example.org/a.pdf"))
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_document(1, BufferedInputFile(b"", "empty.txt"))
    refused(exc, TelegramBadRequest, "Bad Request: file must be non-empty")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_photo(1, BufferedInputFile(b"not an image", "x.png"))
    refused(exc, TelegramBadRequest, "Bad Request: IMAGE_PROCESS_FAILED")
    document = await bot.send_document(1, BufferedInputFile(b"abc", "a.txt"))
    assert document.document is not None
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_photo(1, document.document.file_id)
    refused(exc, TelegramBadRequest, "Bad Request: type of file mismatch")
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.get_file("unknown")
    refused(
        exc, TelegramBadRequest, "Bad Request: wrong file_id or the file is temporarily unavailable"
    )


@pytest.mark.usefixtures("anna")
async def test_reply_to_missing_message(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as exc:
        await bot.send_message(1, "x", reply_to_message_id=999)
    refused(exc, TelegramBadRequest, "Bad Request: message to be replied not found")
    reply = await bot.send_message(1, "x", reply_to_message_id=1)
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "hi"


@pytest.mark.usefixtures("anna")
async def test_messages_with_reply_keyboards_cannot_be_edited(bot: Bot, sandbox: Sandbox) -> None:
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="A")]])
    sent = await bot.send_message(1, "choose", reply_markup=keyboard)
    assert sent.reply_markup is None  # only inline keyboards are echoed in Message
    removal = await bot.send_message(1, "...", reply_markup=ReplyKeyboardRemove())
    forced = await bot.send_message(1, "your name?", reply_markup=ForceReply())
    for message in (sent, removal, forced):
        with pytest.raises(TelegramBadRequest) as exc:
            await bot.edit_message_text("new", chat_id=1, message_id=message.message_id)
        refused(exc, TelegramBadRequest, "Bad Request: message can't be edited")
        with pytest.raises(TelegramBadRequest, match="message can't be edited"):
            await bot.edit_message_reply_markup(
                chat_id=1, message_id=message.message_id, reply_markup=kb()
            )
    # aiogram refuses a reply keyboard in edits on its own; a raw request gets Telegram's word
    plain = await bot.send_message(1, "plain")
    reply_markup = keyboard.model_dump_json(exclude_none=True)
    with pytest.raises(ApiError) as api_exc:
        await sandbox.call(
            "editMessageText",
            {
                "chat_id": 1,
                "message_id": plain.message_id,
                "text": "x",
                "reply_markup": reply_markup,
            },
        )
    assert api_exc.value.description == "Bad Request: inline keyboard expected"


async def test_wrong_token_and_unknown_methods(sandbox: Sandbox, bot: Bot) -> None:
    other = Bot("1:other", session=bot.session)
    with pytest.raises(TelegramUnauthorizedError) as exc:
        await other.get_me()
    refused(exc, TelegramUnauthorizedError, "Unauthorized")
    with pytest.raises(UnsupportedMethodError, match="'close'"):
        await bot(Close())
    assert sandbox.unsupported == ["close"]
    with pytest.raises(ApiError) as api_exc:
        await sandbox.call("noSuchMethod", {})
    assert (api_exc.value.error_code, api_exc.value.description) == (404, "Not Found")
    with pytest.raises(ApiError) as api_exc:
        await sandbox.call("getMe", {}, token="1:wrong")
    assert api_exc.value.error_code == 401
    # method names are case-insensitive, as in the Bot API
    assert (await sandbox.call("GETME", {}))["username"] == sandbox.bot_username


async def test_webhook_blocks_get_updates(sandbox: Sandbox, bot: Bot) -> None:
    from aiogram.exceptions import TelegramConflictError

    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://example.org/hook")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []
