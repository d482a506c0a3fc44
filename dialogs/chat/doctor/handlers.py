"""What «Вопросы пациентов» does: a thread opened, answered, closed; the card opened.

«Открыть карту» takes the cabinet's own step-up path (services.clinic): within a
step-up the card opens again, else «Кабинет врача» asks for the purpose and a
fresh authenticator code. The thread id a button or a push carries is checked by
the service: a thread addressed to another doctor is refused, journaled.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.chat.common import chat, read_file, send_file, sender
from dialogs.chat.doctor.getters import staff_id_of, thread_id_of
from dialogs.chat.doctor.states import PatientQuestions
from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.clinic.common import clinic
from dialogs.core.card import ACCESS_KEY, CARD, DOCTOR
from dialogs.core.common import NOT_TEXT, clear_error, current_user, guarded, set_error
from dialogs.record.card.states import RecordCard
from services.chat.service import MSG_ANSWER_EMPTY, validate_text
from services.clinic.patients import DoctorCard
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
    manager.dialog_data.pop("result", None)
    await manager.switch_to(PatientQuestions.thread)


async def on_text(message: Message, _w: Any, manager: DialogManager) -> None:
    if message.text is None:
        set_error(manager, NOT_TEXT)
        return
    try:
        manager.dialog_data["text"] = validate_text(message.text, empty=MSG_ANSWER_EMPTY)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    await manager.switch_to(PatientQuestions.attach)


async def _send(manager: DialogManager, data: bytes | None, file_name: str | None) -> None:
    user = current_user(manager)
    staff_id = await staff_id_of(manager)
    thread_id = thread_id_of(manager)
    text = manager.dialog_data.get("text")
    if staff_id is None or thread_id is None or not isinstance(text, str):
        await manager.switch_to(PatientQuestions.main)
        return
    try:
        result = await sender(manager).answer(
            user, staff_id, thread_id, text, data=data, file_name=file_name
        )
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return
    manager.dialog_data.pop("text", None)
    manager.dialog_data.update(thread_id=thread_id, result=result)
    await manager.switch_to(PatientQuestions.thread)


async def on_file(message: Message, _w: Any, manager: DialogManager) -> None:
    clear_error(manager)
    got = await read_file(message, manager)
    if got is not None:
        await _send(manager, *got)


async def on_without_file(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await _send(manager, None, None)


async def on_close(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    staff_id = await staff_id_of(manager)
    thread_id = thread_id_of(manager)
    if staff_id is None or thread_id is None:
        return

    async def close() -> None:
        manager.dialog_data["result"] = await chat(manager).run(
            lambda s: s.close(user, staff_id, thread_id)
        )

    await guarded(manager, close)


async def on_download(
    callback: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    user = current_user(manager)
    staff_id = await staff_id_of(manager)
    thread_id = thread_id_of(manager)
    if staff_id is None or thread_id is None or not item_id.isdigit():
        return

    async def send() -> None:
        got = await chat(manager).run(
            lambda s: s.doctor_file(user, staff_id, thread_id, int(item_id))
        )
        await send_file(callback, manager, got.data, got.file_name)

    await guarded(manager, send)


async def on_card(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Открыть карту»: within the step-up the card itself, else the cabinet's step-up."""
    user = current_user(manager)
    staff_id = await staff_id_of(manager)
    patient = manager.dialog_data.get("patient")
    if staff_id is None or not isinstance(patient, int):
        return
    found: dict[str, Any] = {}

    async def look() -> None:
        found["card"] = await clinic(manager).run(lambda s: s.reopen(user, staff_id, patient))
        if found["card"] is None:
            found["name"] = await clinic(manager).run(
                lambda s: s.patient_name(user, staff_id, patient)
            )

    if not await guarded(manager, look):
        return
    card = found["card"]
    if isinstance(card, DoctorCard):
        manager.middleware_data[ACCESS_KEY] = card
        await manager.start(RecordCard.main, data={CARD: patient, DOCTOR: staff_id})
        return
    await manager.start(
        DoctorCabinet.purpose,
        data={"staff_id": staff_id, "patient": patient, "patient_name": found["name"]},
    )


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    for key in ("thread_id", "result", "patient"):
        manager.dialog_data.pop(key, None)
    await manager.switch_to(PatientQuestions.main)
