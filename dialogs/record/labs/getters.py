"""What the windows of «Результаты анализов» show, read through LabResultsService."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.card import principal
from dialogs.core.common import MAX_MESSAGE, clip, ctx, set_error, work
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.record.labs import (
    MSG_NOT_FOUND,
    PAGE_SIZE,
    LabResultsService,
    ResultLine,
    ResultView,
    local_day,
)

EMPTY = "Результатов анализов пока нет."
PRELIMINARY = "⏳ Результат предварительный, окончательный придёт позже."
NEW_MARK = "🆕 новый"
LEGEND = {"↑": "↑ — выше нормы", "↓": "↓ — ниже нормы", "!": "! — отклонение от нормы"}


def labs(manager: DialogManager) -> UseCases[LabResultsService]:
    """The lab results' use cases, each in a unit of work of its own."""
    return UseCases(work(manager), ctx(manager), LabResultsService)


def result_id_of(manager: DialogManager) -> int | None:
    """The result this window is about: chosen in the list, or the start data (a push)."""
    data = manager.dialog_data
    if "result_id" not in data:
        start = manager.start_data
        if isinstance(start, dict) and "result_id" in start:
            data["result_id"] = start["result_id"]
    try:
        return int(data["result_id"])
    except (KeyError, TypeError, ValueError):
        return None


def has_parent(manager: DialogManager) -> bool:
    """Was this dialog started over another one (the record's sections), not on its own?"""
    return len(manager.current_stack().intents) > 1


def _line(number: int, item: ResultLine) -> str:
    head = f"{number}. {local_day(item.issued_at)} — {item.test_name}"
    if item.new:
        head += f" · {NEW_MARK}"
    details = [item.status_text, item.laboratory_name]
    if item.ordered_by:
        details.append(f"врач: {item.ordered_by}")
    return f"{head}\n    {' · '.join(details)}"


def _button(number: int, item: ResultLine) -> str:
    mark = "🆕 " if item.new else ""
    return f"{mark}{number}. {local_day(item.issued_at)} {item.test_name}"[:60]


async def list_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    data = dialog_manager.dialog_data
    page_index = int(data.get("page", 0))
    test = data.get("test")
    empty: dict[str, Any] = {
        "lines": "",
        "filter_line": "",
        "page_line": "",
        "items": [],
        "has_previous": False,
        "has_next": False,
        "can_filter": False,
        "has_parent": has_parent(dialog_manager),
    }
    try:
        page = await labs(dialog_manager).run(
            lambda s: s.results_page(user, page=page_index, test=test)
        )
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return empty
    data["page"], data["test"] = page.page, page.test
    first = page.page * PAGE_SIZE
    lines = [_line(first + n + 1, item) for n, item in enumerate(page.items)]
    return {
        **empty,
        "lines": "\n\n".join(lines) if lines else EMPTY,
        "filter_line": f"Анализ: {page.test_name}" if page.test_name else "",
        "page_line": f"Страница {page.page + 1} из {page.pages}" if page.pages > 1 else "",
        "items": [
            (str(item.id), _button(first + n + 1, item)) for n, item in enumerate(page.items)
        ],
        "has_previous": page.has_previous,
        "has_next": page.has_next,
        "can_filter": len(page.tests) > 1 or page.test is not None,
    }


async def filter_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    try:
        page = await labs(dialog_manager).run(lambda s: s.results_page(user, page=0))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"tests": []}
    return {"tests": [(t.code, t.name[:60]) for t in page.tests]}


def result_text(view: ResultView) -> str:
    parts = [view.test_name]
    if view.preliminary:
        parts.append(PRELIMINARY)
    facts = [
        f"Дата: {local_day(view.issued_at)}",
        f"Статус: {view.status_text}",
        f"Лаборатория: {view.laboratory_name}",
    ]
    if view.collected_at is not None:
        facts.insert(1, f"Взят материал: {local_day(view.collected_at)}")
    if view.ordered_by:
        facts.append(f"Направил врач: {view.ordered_by}")
    parts.append("\n".join(facts))
    if view.analytes:
        parts.append("Показатели:\n" + "\n".join(f"• {a.line()}" for a in view.analytes))
        marks = {a.mark for a in view.analytes}
        legend = [text for mark, text in LEGEND.items() if mark in marks]
        if legend:
            parts.append(", ".join(legend))
    if view.lab_comment:
        parts.append(f"Комментарий лаборатории: {view.lab_comment}")
    if view.doctor_comment:
        parts.append(f"Комментарий врача: {view.doctor_comment}")
    return clip("\n\n".join(parts), MAX_MESSAGE - 200)


async def detail_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    result_id = result_id_of(dialog_manager)
    empty: dict[str, Any] = {"text": "", "can_download": False, "trends": []}
    if result_id is None:
        set_error(dialog_manager, MSG_NOT_FOUND)
        return empty
    try:
        view = await labs(dialog_manager).run(lambda s: s.result(user, result_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return empty
    return {
        "text": result_text(view),
        "can_download": view.has_file and view.can_download,
        "trends": [(a.code, f"Динамика: {a.name}"[:60]) for a in view.trends],
    }
