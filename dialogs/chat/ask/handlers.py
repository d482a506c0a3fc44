"""What «Спросить врача» does: the doctor chosen, the question, the file, sending it.

The doctor a button names is checked again by the service when the question is
sent (one of the patient's doctors, through the access rule).
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.chat.ask.getters import origin_of
from dialogs.chat.ask.states import AskDoctor
from dialogs.chat.common import patient_side, read_file, sender
from dialogs.chat.mine.states import MyQuestions
from dialogs.core.card import card_data
from dialogs.core.common import NOT_TEXT, clear_error, set_error
from services.chat.service import validate_text
from services.core.errors import DomainError, SessionRequired


async def on_doctor(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    doctors = manager.dialog_data.get("doctors") or {}
    if not item_id.isdigit() or item_id not in doctors:
        return
    clear_error(manager)
    manager.dialog_data.update(staff_id=int(item_id), doctor_label=doctors[item_id])
    await manager.switch_to(AskDoctor.question)


async def on_question(message: Message, _w: Any, manager: DialogManager) -> None:
    if message.text is None:
        set_error(manager, NOT_TEXT)
        return
    try:
        text = validate_text(message.text)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    manager.dialog_data["question"] = text
    await manager.switch_to(AskDoctor.attach)


async def _send(manager: DialogManager, data: bytes | None, file_name: str | None) -> None:
    staff_id = manager.dialog_data.get("staff_id")
    question = manager.dialog_data.get("question")
    if not isinstance(staff_id, int) or not isinstance(question, str):
        await manager.switch_to(AskDoctor.doctor)
        return
    origin, origin_id = origin_of(manager)
    try:
        who = await patient_side(manager)
        await sender(manager).ask(
            who,
            staff_id,
            question,
            origin=origin,
            origin_id=origin_id,
            data=data,
            file_name=file_name,
        )
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return
    manager.dialog_data.pop("question", None)
    await manager.switch_to(AskDoctor.sent)


async def on_file(message: Message, _w: Any, manager: DialogManager) -> None:
    clear_error(manager)
    got = await read_file(message, manager)
    if got is not None:
        await _send(manager, *got)


async def on_without_file(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await _send(manager, None, None)


async def on_my_questions(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(MyQuestions.main, data=card_data(manager))
