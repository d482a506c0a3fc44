"""What the windows of «Спросить врача» show, read through services.chat."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.chat.common import chat, int_from, patient_side
from dialogs.core.common import set_error
from services.chat.service import MSG_SENT, ORIGINS
from services.core.errors import DomainError, SessionRequired


def origin_of(manager: DialogManager) -> tuple[str, int | None]:
    start = manager.start_data
    origin = start.get("origin") if isinstance(start, dict) else None
    origin_id = int_from(start, "origin_id")
    if origin not in ORIGINS or origin == "general" or origin_id is None:
        return "general", None
    return str(origin), origin_id


async def doctor_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    origin, origin_id = origin_of(dialog_manager)
    doctors: list[tuple[str, str]] = []
    label = ""
    try:
        who = await patient_side(dialog_manager)
        options = await chat(dialog_manager).run(lambda s: s.ask_options(who, origin, origin_id))
        doctors = [(str(c.staff_id), c.label[:60]) for c in options.doctors]
        label = options.origin_label or ""
        dialog_manager.dialog_data["doctors"] = dict(doctors)
        dialog_manager.dialog_data["origin_label"] = label
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
    return {"doctors": doctors, "origin_label": label}


async def question_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "doctor": data.get("doctor_label", ""),
        "origin_label": data.get("origin_label", ""),
        "question": data.get("question", ""),
        "sent": MSG_SENT,
    }
