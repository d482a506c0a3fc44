"""What the windows of a doctor's changes show, read through services.record."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.clinic.card.common import doctor, entries, sending
from dialogs.core.common import set_error
from services.core.errors import DomainError
from services.record.authored import NOTE_KINDS
from services.record.sections import icd10_search

NOTE_PROMPTS = {
    "plan": "Напишите план лечения: что назначено, что пациенту нужно сделать и когда.",
    "anamnesis": "Напишите анамнез: жалобы, история заболевания, что важно знать о пациенте.",
}


async def icd_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    query = dialog_manager.dialog_data.get("icd_query")
    found: list[tuple[str, str]] = []
    if isinstance(query, str) and query:
        found = await entries(dialog_manager).run(lambda s: icd10_search(s.uow, query, 10))
    for_conclusion = dialog_manager.dialog_data.get("for") == "conclusion"
    return {
        "query": query or "",
        "searched": bool(query),
        "nothing": bool(query) and not found,
        "found": [(code, f"{code} · {name}"[:60]) for code, name in found],
        "what": "диагноз для заключения" if for_conclusion else "диагноз",
    }


async def resolve_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await doctor(dialog_manager)
    items = await entries(dialog_manager).run(lambda s: s.active_diagnoses(user))
    return {"items": [(str(i), label) for i, label in items], "none": not items}


async def note_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    kind = str(dialog_manager.dialog_data.get("note_kind", "plan"))
    return {"title": NOTE_KINDS.get(kind, ""), "prompt": NOTE_PROMPTS.get(kind, "")}


async def referral_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await doctor(dialog_manager)
    items = await entries(dialog_manager).run(lambda s: s.specialties(user))
    return {"items": items}


async def referral_reason_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"specialty": dialog_manager.dialog_data.get("specialty_name", "")}


async def confirm_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "diagnosis": data.get("conclusion_label", ""),
        "findings": data.get("findings", ""),
        "recommendations": data.get("recommendations", ""),
        "follow_up": data.get("follow_up", ""),
    }


async def recipient_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    found = dialog_manager.dialog_data.get("colleagues") or []
    return {
        "found": [(str(i), label) for i, label in found],
        "searched": "colleagues" in dialog_manager.dialog_data,
        "nothing": "colleagues" in dialog_manager.dialog_data and not found,
    }


async def content_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await doctor(dialog_manager)
    try:
        items = await sending(dialog_manager).run(lambda s: s.conclusions(user))
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        items = []
    return {
        "recipient": dialog_manager.dialog_data.get("recipient_label", ""),
        "items": [(str(i), label) for i, label in items],
    }


async def send_note_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "recipient": data.get("recipient_label", ""),
        "content": data.get("content_label", ""),
    }


async def done_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"result": dialog_manager.dialog_data.get("result", "")}
