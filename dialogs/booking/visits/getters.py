"""What the windows of «Мои записи» show, read through BookingService (the access rule)."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.booking.common import FILE_RULES, booking, visit_button, visit_text
from dialogs.booking.contract import VisitsStart
from dialogs.core.card import principal
from dialogs.core.common import set_error
from services.booking.visits import VisitView
from services.core.errors import DomainError, SessionRequired

EMPTY = "Предстоящих записей нет. Записаться можно кнопкой «Записаться к врачу»."
NO_PAST = "Прошедших записей пока нет."
NO_WAITING = (
    "В листе ожидания ничего нет. Встать в него можно при записи к врачу: кнопка "
    "«Сообщить, если появится время раньше»."
)
MSG_NO_VISIT = "Такой записи нет."


def visit_id_of(manager: DialogManager) -> int | None:
    """The visit this window is about: chosen in the list, or the start data (a push)."""
    data = manager.dialog_data
    if "visit_id" not in data:
        start = VisitsStart.from_data(manager.start_data)
        if start.visit_id is not None:
            data["visit_id"] = start.visit_id
    value = data.get("visit_id")
    return int(value) if isinstance(value, int) else None


def _line(number: int, view: VisitView) -> str:
    return (
        f"{number}. {view.when} — {view.specialty_name} {view.doctor_short}, кабинет {view.cabinet}"
    )


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    empty: dict[str, Any] = {"lines": "", "items": [], "notice": ""}
    try:
        views = await booking(dialog_manager).run(lambda s: s.upcoming(user))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return empty
    lines = [_line(n + 1, v) for n, v in enumerate(views)]
    return {
        **empty,
        "lines": "\n".join(lines) if lines else EMPTY,
        "items": [(str(v.id), visit_button(v)) for v in views],
        "notice": dialog_manager.dialog_data.get("notice", ""),
    }


async def _visit(dialog_manager: DialogManager) -> VisitView | None:
    user = await principal(dialog_manager)
    visit_id = visit_id_of(dialog_manager)
    if visit_id is None:
        set_error(dialog_manager, MSG_NO_VISIT)
        return None
    try:
        return await booking(dialog_manager).run(lambda s: s.visit(user, visit_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return None


async def visit_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    view = await _visit(dialog_manager)
    base: dict[str, Any] = {
        "text": "",
        "booked": False,
        "notice": dialog_manager.dialog_data.get("notice", ""),
    }
    if view is None:
        return base
    return {**base, "text": visit_text(view), "booked": view.status == "booked"}


async def cancel_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    view = await _visit(dialog_manager)
    if view is None:
        return {"text": "", "booked": False}
    return {"text": visit_text(view, file=False), "booked": view.status == "booked"}


async def cancelled_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {"when": data.get("cancelled_when", ""), "whom": data.get("cancelled_whom", "")}


async def attach_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"rules": FILE_RULES}


async def past_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    try:
        views = await booking(dialog_manager).run(lambda s: s.past(user))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"lines": ""}
    lines = []
    for n, view in enumerate(views):
        line = _line(n + 1, view)
        if view.status == "cancelled":
            line += " — отменена" + (f" ({view.cancel_reason})" if view.cancel_reason else "")
        lines.append(line)
    return {"lines": "\n".join(lines) if lines else NO_PAST}


async def waitlist_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    base: dict[str, Any] = {
        "lines": "",
        "items": [],
        "notice": dialog_manager.dialog_data.get("notice", ""),
    }
    try:
        entries = await booking(dialog_manager).run(lambda s: s.waitlist(user))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return base
    lines = [
        f"{n + 1}. {e.specialty_name}, {e.doctor_short or 'любой врач'}: "
        f"с {e.date_from:%d.%m.%Y} по {e.date_to:%d.%m.%Y}"
        for n, e in enumerate(entries)
    ]
    items = [
        (str(e.id), f"Удалить из листа ожидания: {n + 1}. {e.specialty_name}"[:60])
        for n, e in enumerate(entries)
    ]
    return {**base, "lines": "\n".join(lines) if lines else NO_WAITING, "items": items}
