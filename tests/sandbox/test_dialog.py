"""aiogram-dialog's message manager against the sandbox: edits, keyboards, reply keyboards."""

from __future__ import annotations

import pytest
from aiogram import Bot, Dispatcher
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import ContentType, Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Back, Cancel, RequestContact, SwitchTo
from aiogram_dialog.widgets.markup.reply_keyboard import ReplyKeyboardFactory
from aiogram_dialog.widgets.text import Const, Format

from tgsandbox import Sandbox


class Menu(StatesGroup):
    main = State()
    detail = State()
    phone = State()


async def got_contact(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    manager.dialog_data["phone"] = message.contact.phone_number
    await manager.switch_to(Menu.main)


async def main_getter(dialog_manager: DialogManager, **kwargs: object) -> dict[str, str]:
    return {"phone": dialog_manager.dialog_data.get("phone", "none")}


def build() -> Dispatcher:
    dp = Dispatcher()
    dp.include_router(
        Dialog(
            Window(
                Format("Main menu, phone: {phone}"),
                SwitchTo(Const("Details"), id="details", state=Menu.detail),
                SwitchTo(Const("Phone"), id="phone", state=Menu.phone),
                Cancel(Const("Close")),
                state=Menu.main,
                getter=main_getter,
            ),
            Window(Const("Details"), Back(Const("Back")), state=Menu.detail),
            Window(
                Const("Share your phone"),
                RequestContact(Const("Send my phone")),
                MessageInput(got_contact, content_types=[ContentType.CONTACT]),
                markup_factory=ReplyKeyboardFactory(resize_keyboard=True),
                state=Menu.phone,
            ),
        )
    )

    @dp.message(CommandStart())
    async def start(message: Message, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(Menu.main, mode=StartMode.RESET_STACK)

    setup_dialogs(dp)
    return dp


@pytest.fixture
def dialog_app(sandbox: Sandbox, bot: Bot) -> Dispatcher:
    dp = build()
    sandbox.attach(dp, bot)
    return dp


@pytest.mark.usefixtures("dialog_app")
async def test_dialog_navigation_edits_one_message(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна", phone="+79990000001")
    await anna.send("/start")
    assert anna.bot_texts() == ["Main menu, phone: none"]
    assert anna.last.keyboard == [["Details"], ["Phone"], ["Close"]]
    menu_id = anna.last.message_id

    await anna.press("Details")
    assert (anna.last.message_id, anna.last.text, anna.last.buttons) == (
        menu_id,
        "Details",
        ["Back"],
    )
    await anna.press("Back")
    assert anna.last.text == "Main menu, phone: none" and anna.last.edited
    assert not sandbox.unanswered_callback_queries()

    # A new /start: the old menu loses its keyboard, a new menu is sent.
    await anna.send("/start")
    old, new = anna.bot_messages
    assert old.message_id == menu_id and old.buttons == []
    assert new.buttons == ["Details", "Phone", "Close"]


@pytest.mark.usefixtures("dialog_app")
async def test_dialog_reply_keyboard_and_contact(sandbox: Sandbox) -> None:
    anna = sandbox.user(1, "Анна", phone="+79990000001")
    await anna.send("/start")
    await anna.press("Phone")
    # A reply keyboard cannot be put on the old message: a new one is sent.
    assert anna.last.text == "Share your phone"
    assert anna.current_reply_keyboard() == ["Send my phone"]
    keyboard_message = anna.last.message_id
    await anna.press("Send my phone")
    assert anna.last.text == "Main menu, phone: +79990000001"
    # aiogram-dialog deletes the message that carried the reply keyboard: the keyboard goes too.
    assert keyboard_message not in [m.message_id for m in anna.messages]
    assert anna.current_reply_keyboard() is None
    assert not sandbox.unsupported
    failed = [r for r in sandbox.requests if not r.ok]
    assert failed == []
