"""Buttons under push messages: plain data in the outbox, `PushAction` on Telegram's side.

Buttons sent before `PushAction` existed carry ``push:menu`` / ``push:status`` (in
the chats, and in outbox rows queued before): they must keep working.
"""

from __future__ import annotations

import pytest
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.push import PushAction, callback_data_of
from services.core import notify
from services.core.notify import ARG_MAX_LENGTH, Button, ButtonAction
from services.demo import PETROV_APPLICATION
from storage.models import OutboxMessage
from tests.support.application_flow import apply, signed_in
from tests.support.bot import App
from tgsandbox import SandboxUser

# -- the encoding ------------------------------------------------------------------------


def test_every_action_is_push_and_its_name() -> None:
    for action in ButtonAction:
        packed = PushAction(action=action).pack()
        assert packed == f"push:{action.value}"
        assert PushAction.unpack(packed) == PushAction(action=action)


def test_the_old_callback_data_still_parses() -> None:
    assert PushAction.unpack("push:menu") == PushAction(action=ButtonAction.MENU)
    assert PushAction.unpack("push:status") == PushAction(action=ButtonAction.STATUS)
    assert PushAction.unpack("push:status").arg == ""
    # the constants services used to put in the outbox
    assert PushAction(action=notify.OPEN_MENU).pack() == "push:menu"
    assert PushAction(action=notify.OPEN_STATUS).pack() == "push:status"


def test_an_argument_travels_with_the_action() -> None:
    packed = PushAction(action=ButtonAction.STATUS, arg="EMK-2026-000017").pack()
    assert packed == "push:status:EMK-2026-000017"
    assert PushAction.unpack(packed).arg == "EMK-2026-000017"


def test_the_longest_button_fits_telegrams_64_bytes() -> None:
    assert MAX_CALLBACK_LENGTH == 64
    longest = "x" * ARG_MAX_LENGTH
    for action in ButtonAction:
        button = Button("Кнопка", action, longest)
        packed = callback_data_of(button.to_data())
        assert len(packed.encode()) <= 64, packed
        assert PushAction.unpack(packed) == PushAction(action=action, arg=longest)


@pytest.mark.parametrize(
    "data",
    ["push:delete", "push:", "push", "menu", "other:status", "push:status:a:b", "aiogd:1:2", ""],
)
def test_other_callback_data_does_not_parse(data: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        PushAction.unpack(data)


def test_button_is_plain_data() -> None:
    assert Button("Статус заявки", notify.OPEN_STATUS).to_data() == {
        "text": "Статус заявки",
        "action": "status",
    }
    assert Button("Статус заявки", ButtonAction.STATUS, "17").to_data() == {
        "text": "Статус заявки",
        "action": "status",
        "arg": "17",
    }
    with pytest.raises(ValueError):
        Button("Кнопка", ButtonAction.STATUS, "x" * (ARG_MAX_LENGTH + 1))
    with pytest.raises(ValueError):
        Button("Кнопка", ButtonAction.STATUS, "a:b")
    with pytest.raises(ValueError):
        Button("Кнопка", "delete")  # type: ignore[arg-type]


def test_outbox_rows_old_and_new() -> None:
    assert callback_data_of({"text": "Меню", "action": "menu"}) == "push:menu"
    assert callback_data_of({"text": "С", "action": "status", "arg": "5"}) == "push:status:5"
    # rows queued before: sent with the callback data they hold
    assert callback_data_of({"text": "Меню", "callback_data": "push:menu"}) == "push:menu"
    assert callback_data_of({"text": "С", "callback_data": "push:status"}) == "push:status"
    for broken in (
        {"text": "x", "action": "delete"},
        {"text": "x", "callback_data": "something:else"},
        {"text": "x"},
    ):
        with pytest.raises((KeyError, TypeError, ValueError)):
            callback_data_of(broken)


# -- in the conversation ---------------------------------------------------------------


async def petrov_with_an_application(app: App) -> SandboxUser:
    petrov = await signed_in(app)
    await apply(app, petrov, PETROV_APPLICATION)
    await petrov.press("В меню")
    await app.deliver_pushes()  # «Заявка принята»: out of the way
    return petrov


async def queue_raw(app: App, chat_id: int, buttons: list[dict[str, str]]) -> None:
    """An outbox row exactly as an older version wrote it."""
    assert app.runtime is not None
    now = app.clock.now()
    async with app.runtime.uow_factory() as uow:
        await uow.core.outbox.add(
            OutboxMessage(
                chat_id=chat_id,
                account_id=None,
                text="Статус заявки изменён.",
                kind="application_status",
                buttons=buttons,
                status="pending",
                created_at=now,
                due_at=now,
                attempts=0,
            )
        )
        await uow.commit()


async def test_an_old_outbox_row_with_push_status_opens_the_status(app: App) -> None:
    petrov = await petrov_with_an_application(app)
    await queue_raw(
        app, petrov.chat_id, [{"text": "Статус заявки", "callback_data": "push:status"}]
    )
    assert await app.deliver_pushes() == 1
    push = petrov.last
    assert push.text == "Статус заявки изменён."
    assert push.button("Статус заявки")["callback_data"] == "push:status"
    await petrov.press("Статус заявки", message=push)
    assert "Статус: Заявка принята" in petrov.last.text
    assert petrov.last.message_id != push.message_id


async def old_message(app: App, chat_id: int, text: str, label: str, data: str) -> int:
    """A message as an older version sent it, with its button, already in the chat."""
    assert app.bot is not None
    sent = await app.bot.send_message(
        chat_id,
        text,
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)]]
        ),
    )
    await app.settle()
    return sent.message_id


async def test_old_messages_in_the_chat_still_work(app: App) -> None:
    petrov = await petrov_with_an_application(app)
    status = await old_message(
        app, petrov.chat_id, "Заявка принята.", "Статус заявки", "push:status"
    )
    menu = await old_message(app, petrov.chat_id, "Уведомление.", "Открыть меню", "push:menu")
    await petrov.press("Статус заявки", message=status)
    assert "Статус: Заявка принята" in petrov.last.text
    await petrov.press("Открыть меню", message=menu)
    assert "Главное меню" in petrov.last.text


async def test_a_new_push_button_opens_the_status(app: App) -> None:
    petrov = await petrov_with_an_application(app)
    await app.process_applications()
    assert await app.deliver_pushes() >= 1
    push = petrov.last
    assert push.button("Статус заявки")["callback_data"] == "push:status"
    await petrov.press("Статус заявки", message=push)
    assert "Статус: Карта открыта" in petrov.last.text


async def test_a_push_button_nobody_answers_changes_nothing(app: App) -> None:
    """Callback data no handler reads (``push:delete``) goes to the open window, which
    has no such button: the window stays as it is, with no error."""
    petrov = await petrov_with_an_application(app)
    stale = await old_message(app, petrov.chat_id, "Старое.", "Удалить", "push:delete")
    await petrov.press("Удалить", message=stale)
    assert "Главное меню" in petrov.last.text
    assert not petrov.alerts


async def test_an_outbox_row_with_bad_buttons_fails_unsent(app: App) -> None:
    petrov = await petrov_with_an_application(app)
    before = len(petrov.messages)
    await queue_raw(app, petrov.chat_id, [{"text": "Удалить", "action": "delete"}])
    assert await app.deliver_pushes() == 0
    assert len(petrov.messages) == before
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        rows = await uow.core.outbox.for_chat(petrov.chat_id)
    assert rows[-1].status == "failed"
    # logged as an error by the notifier on purpose: the test owns that record
    app.errors[:] = [r for r in app.errors if "its buttons are invalid" not in r.getMessage()]
