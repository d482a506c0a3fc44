"""What the document windows show, read through DocumentService."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import current_user, documents
from services.enrolment.documents import SLOTS, SlotView

KIND_LABEL = {"jpeg": "JPG", "png": "PNG", "pdf": "PDF"}
SLOT_LABEL = {spec.slot: spec.label for spec in SLOTS}
RULES = (
    "Подойдут фото или скан в формате JPG, PNG или PDF размером до 5 МБ. Снимок — не меньше "
    "600 точек по короткой стороне, PDF — до 20 страниц."
)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} Б"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} КБ".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} МБ".replace(".", ",")


def file_summary(kind: str | None, size: int | None) -> str:
    """«PNG, 1,2 КБ»."""
    parts = [KIND_LABEL.get(kind or "", (kind or "").upper())]
    if size is not None:
        parts.append(human_size(size))
    return ", ".join(p for p in parts if p)


def slot_line(view: SlotView) -> str:
    """One slot as a line of a list: «✅ Паспорт (страница с фото) — PNG, 1,2 КБ»."""
    label = view.label if view.required else f"{view.label} (необязательно)"
    if view.filled:
        return f"✅ {label} — {file_summary(view.kind, view.size)}"
    return f"— {label} — не загружен"


def _button(view: SlotView) -> str:
    return f"{'✅' if view.filled else '📎'} {view.label}"


async def slots_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    views = await documents(dialog_manager).run(lambda s: s.slots(user))
    return {
        "lines": "\n".join(slot_line(v) for v in views),
        "slots": [(v.slot, _button(v)) for v in views],
        "result": dialog_manager.dialog_data.get("result"),
    }


async def upload_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    slot = dialog_manager.dialog_data.get("slot", SLOTS[0].slot)
    views = {v.slot: v for v in await documents(dialog_manager).run(lambda s: s.slots(user))}
    view = views[slot]
    return {
        "label": view.label,
        "filled": view.filled,
        "current": file_summary(view.kind, view.size) if view.filled else "",
    }
