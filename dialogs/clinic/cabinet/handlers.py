"""What the buttons and inputs of «Кабинет врача» do, through services.clinic.

The patient a button names is checked by the service (attached to the doctor's
organisation, or booked with the doctor): a forged id is refused, never opened.
The authenticator code is read once from its message and checked by the service
in the same unit of work that opens the step-up.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.chat.doctor.states import PatientQuestions
from dialogs.clinic.cabinet.getters import doctor_staff_id
from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.clinic.common import clinic, org_admin
from dialogs.clinic.inbox.states import ColleagueInboxStates
from dialogs.core.card import ACCESS_KEY, CARD, DOCTOR
from dialogs.core.common import clear_error, current_user, guarded
from dialogs.record.card.states import RecordCard
from services.clinic.patients import PURPOSES, DoctorCard, parse_query

OPEN_KEYS = ("patient", "patient_name", "purpose")


def _seen(manager: DialogManager) -> None:
    manager.dialog_data["notice_seen"] = True
    clear_error(manager)


async def on_start(start_data: Any, manager: DialogManager) -> None:
    """Started at the step-up for one patient («Открыть карту» in «Вопросы пациентов»)."""
    if not isinstance(start_data, dict):
        return
    staff_id, patient = start_data.get("staff_id"), start_data.get("patient")
    if isinstance(staff_id, int) and isinstance(patient, int):
        manager.dialog_data.update(
            staff_id=staff_id,
            patient=patient,
            patient_name=str(start_data.get("patient_name", "")),
            page=1,
            query=None,
        )


async def on_questions(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if item_id.isdigit():
        _seen(manager)
        await manager.start(PatientQuestions.main, data={"staff_id": int(item_id)})


async def on_doctor(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    _seen(manager)
    manager.dialog_data.update(staff_id=int(item_id), page=1, query=None)
    await manager.switch_to(DoctorCabinet.patients)


async def on_inbox(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Входящие выписки» of the doctor row the cabinet works as."""
    _seen(manager)
    staff_id = await doctor_staff_id(manager)
    if staff_id is None:
        return
    await manager.start(ColleagueInboxStates.main, data={"staff": staff_id})


async def on_admin(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    _seen(manager)
    manager.dialog_data.pop("result", None)
    manager.dialog_data["admin_id"] = int(item_id)
    await manager.switch_to(DoctorCabinet.pending)


async def on_search(_message: Message, manager: DialogManager, text: str) -> None:
    _seen(manager)
    parse_query(text)  # a ValidationError is shown in the window, the search unchanged
    manager.dialog_data.update(query=text, page=1)


async def on_reset(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    _seen(manager)
    manager.dialog_data.update(query=None, page=1)


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    _seen(manager)
    manager.dialog_data["page"] = max(1, int(manager.dialog_data.get("page", 1)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    _seen(manager)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 1)) + 1


async def _show_card(manager: DialogManager, card: DoctorCard, staff_id: int) -> None:
    for key in OPEN_KEYS:
        manager.dialog_data.pop(key, None)
    manager.middleware_data[ACCESS_KEY] = card
    await manager.start(RecordCard.main, data={CARD: card.patient_account_id, DOCTOR: staff_id})


async def on_patient(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    _seen(manager)
    user = current_user(manager)
    staff_id = await doctor_staff_id(manager)
    if staff_id is None:
        return
    patient = int(item_id)
    found: dict[str, Any] = {}

    async def look() -> None:
        found["card"] = await clinic(manager).run(lambda s: s.reopen(user, staff_id, patient))
        if found["card"] is None:
            found["name"] = await clinic(manager).run(
                lambda s: s.patient_name(user, staff_id, patient)
            )

    if not await guarded(manager, look):
        return
    if isinstance(found["card"], DoctorCard):
        # Within the step-up the card opens again without a code (journaled as an opening).
        await _show_card(manager, found["card"], staff_id)
        return
    manager.dialog_data.update(patient=patient, patient_name=found["name"])
    await manager.switch_to(DoctorCabinet.purpose)


async def on_purpose(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit() or int(item_id) >= len(PURPOSES):
        return
    clear_error(manager)
    if "patient" not in manager.dialog_data:
        await manager.switch_to(DoctorCabinet.patients)
        return
    manager.dialog_data["purpose"] = PURPOSES[int(item_id)]
    await manager.switch_to(DoctorCabinet.code)


async def on_code(_message: Message, manager: DialogManager, text: str) -> None:
    data = manager.dialog_data
    user = current_user(manager)
    staff_id = await doctor_staff_id(manager)
    patient, purpose = data.get("patient"), data.get("purpose")
    if staff_id is None or not isinstance(patient, int) or not isinstance(purpose, str):
        await manager.switch_to(DoctorCabinet.patients)
        return
    card = await clinic(manager).run(lambda s: s.open_card(user, staff_id, patient, purpose, text))
    await _show_card(manager, card, staff_id)


async def on_back_to_patients(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    for key in OPEN_KEYS:
        manager.dialog_data.pop(key, None)
    await manager.switch_to(DoctorCabinet.patients)


async def on_confirm(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    user = current_user(manager)
    admin_id = manager.dialog_data.get("admin_id")
    if not isinstance(admin_id, int):
        await manager.switch_to(DoctorCabinet.main)
        return

    async def confirm() -> None:
        text = await org_admin(manager).run(lambda s: s.confirm(user, admin_id, int(item_id)))
        manager.dialog_data["result"] = text

    if not await guarded(manager, confirm):
        manager.dialog_data.pop("result", None)
