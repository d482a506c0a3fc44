"""What «Мои вопросы» does: a thread opened, written into again, a file of it sent.

The thread id a button (or a push) carries is checked by the service: a thread of
another patient is refused as «Такого вопроса нет», journaled.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.chat.ask.states import AskDoctor
from dialogs.chat.common import chat, patient_side, read_file, send_file, sender
from dialogs.chat.mine.getters import thread_id_of
from dialogs.chat.mine.states import MyQuestions
from dialogs.core.card import card_data
from dialogs.core.common import NOT_TEXT, clear_error, guarded, set_error
from services.chat.service import validate_text
from services.core.errors import DomainError, SessionRequired


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = max(0, int(manager.dialog_data.get("page", 0)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 0)) + 1


async def on_thread(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data["thread_id"] = int(item_id)
    await manager.switch_to(MyQuestions.thread)


async def on_ask(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(AskDoctor.doctor, data=card_data(manager))


async def on_text(message: Message, _w: Any, manager: DialogManager) -> None:
    if message.text is None:
        set_error(manager, NOT_TEXT)
        return
    try:
        manager.dialog_data["text"] = validate_text(message.text)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    await manager.switch_to(MyQuestions.attach)


async def _send(manager: DialogManager, data: bytes | None, file_name: str | None) -> None:
    thread_id = thread_id_of(manager)
    text = manager.dialog_data.get("text")
    if thread_id is None or not isinstance(text, str):
        await manager.switch_to(MyQuestions.main)
        return
    try:
        who = await patient_side(manager)
        await sender(manager).write(who, thread_id, text, data=data, file_name=file_name)
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return
    manager.dialog_data.pop("text", None)
    manager.dialog_data["thread_id"] = thread_id
    await manager.switch_to(MyQuestions.thread)


async def on_file(message: Message, _w: Any, manager: DialogManager) -> None:
    clear_error(manager)
    got = await read_file(message, manager)
    if got is not None:
        await _send(manager, *got)


async def on_without_file(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await _send(manager, None, None)


async def on_download(
    callback: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    thread_id = thread_id_of(manager)
    if thread_id is None or not item_id.isdigit():
        return

    async def send() -> None:
        who = await patient_side(manager)
        got = await chat(manager).run(lambda s: s.patient_file(who, thread_id, int(item_id)))
        await send_file(callback, manager, got.data, got.file_name)

    await guarded(manager, send)


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("thread_id", None)
    await manager.switch_to(MyQuestions.main)
