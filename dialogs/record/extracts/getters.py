"""What the windows of «Выписки и заключения» show, read through services.record.extracts.

Each getter is one use case (its own unit of work); a refusal (no access, no
such document) is shown in the window's error line instead of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from aiogram_dialog import DialogManager

from dialogs.core.card import principal
from dialogs.core.common import MAX_MESSAGE, clip, ctx, local_time, set_error, work
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.record.extracts import (
    KIND_LABELS,
    ExtractRequests,
    ExtractService,
    Period,
)

T = TypeVar("T")

# Telegram shows about this many characters of a button in a chat.
BUTTON_TEXT = 60

EMPTY_LIST = (
    "Здесь пока нет документов. Заключения врачей и выписные эпикризы появятся здесь, "
    "как только поступят в медкарту. Подписанную выписку из медкарты можно запросить — "
    "нажмите «Запросить выписку»."
)
EMPTY_HISTORY = "Вы ещё не запрашивали выписки."


def extracts(manager: DialogManager) -> UseCases[ExtractService]:
    """«Выписки и заключения» use cases, each in a unit of work of its own."""
    return UseCases(work(manager), ctx(manager), ExtractService)


def extract_requests(manager: DialogManager) -> ExtractRequests:
    """«Запросить выписку» (the PDF is built and signed between units of work)."""
    return ExtractRequests(work(manager), ctx(manager))


async def _read(manager: DialogManager, call: Callable[[], Awaitable[T]]) -> T | None:
    try:
        return await call()
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return None


def _day(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def _has_parent(manager: DialogManager) -> bool:
    """Was this dialog started from another one («Моя медкарта»), to go back to?"""
    return len(manager.current_stack().intents) > 1


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    number = int(dialog_manager.dialog_data.get("page", 0))
    page = await _read(
        dialog_manager, lambda: extracts(dialog_manager).run(lambda s: s.documents(user, number))
    )
    items = page.items if page is not None else []
    return {
        "documents": [
            (
                str(item.id),
                clip(f"{_day(item.document_date)} · {item.kind_label}: {item.title}", BUTTON_TEXT),
            )
            for item in items
        ],
        "has_documents": bool(items),
        "empty": page is not None and not items and number == 0,
        "empty_text": EMPTY_LIST,
        "has_previous": page is not None and page.has_previous,
        "has_next": page is not None and page.has_next,
        "page_line": f"Страница {number + 1}" if page and (page.has_next or number) else "",
        "has_parent": _has_parent(dialog_manager),
        "no_parent": not _has_parent(dialog_manager),
    }


async def document_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    document_id = int(dialog_manager.dialog_data.get("document_id", 0))
    detail = await _read(
        dialog_manager,
        lambda: extracts(dialog_manager).run(lambda s: s.document(user, document_id)),
    )
    if detail is None:
        return {"text": "Документ недоступен.", "has_file": False}
    lines = [f"{detail.kind_label}: {detail.title}", f"Дата: {_day(detail.document_date)}"]
    if detail.author_name:
        lines.append(f"Автор: {detail.author_name}")
    if detail.organisation_name:
        lines.append(f"Медицинская организация: {detail.organisation_name}")
    if detail.added_by_you:
        lines.append("Добавлено вами")
    if detail.source_note:
        lines.append(detail.source_note[:1].upper() + detail.source_note[1:])
    text = "\n".join(lines)
    if detail.body:
        text += "\n\n" + detail.body
    if detail.has_file:
        text += "\n\nФайл можно скачать кнопкой ниже."
    return {"text": clip(text, MAX_MESSAGE - 200), "has_file": detail.has_file}


async def kind_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"kinds": list(KIND_LABELS.items())}


async def period_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    kind = str(dialog_manager.dialog_data.get("kind", "period"))
    return {"kind_label": KIND_LABELS.get(kind, "")}


async def period_end_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    start = dialog_manager.dialog_data.get("period_from")
    return {"start": _day(date.fromisoformat(start)) if start else ""}


async def stay_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    stays = await _read(
        dialog_manager,
        lambda: extracts(dialog_manager).run(lambda s: s.hospitalisations(user)),
    )
    items = stays or []
    # What the person may choose, for the button's handler to check against and name.
    dialog_manager.dialog_data["stay_labels"] = {str(stay.id): stay.label for stay in items}
    return {
        "stays": [
            (
                str(stay.id),
                clip(stay.label + ("" if stay.has_summary else " (без эпикриза)"), BUTTON_TEXT),
            )
            for stay in items
        ],
        "has_stays": bool(items),
        "no_stays": stays is not None and not items,
    }


def order_summary(data: dict[str, Any]) -> str:
    """What the person is about to request, in words (from the dialog's data)."""
    kind = str(data.get("kind", ""))
    label = KIND_LABELS.get(kind, "")
    if kind == "discharge":
        return f"{label}\nГоспитализация: {data.get('stay_label', '')}"
    if data.get("period_to"):
        start = data.get("period_from")
        period = Period(
            date.fromisoformat(start) if start else None, date.fromisoformat(data["period_to"])
        )
        return f"{label}\nПериод: {period.label}"
    return label


async def confirm_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    email = await _read(
        dialog_manager,
        lambda: extracts(dialog_manager).run(lambda s: s.email_address(user)),
    )
    data = dialog_manager.dialog_data
    wants = bool(data.get("email")) and email is not None
    return {
        "summary": order_summary(data),
        "organisation": getattr(ctx(dialog_manager).signer, "organisation", ""),
        "has_email": email is not None,
        "email": email or "",
        "email_on": wants,
        "email_off": email is not None and not wants,
        "no_email": email is None,
    }


async def done_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "emailed_to": data.get("emailed_to") or "",
        "email_failed": bool(data.get("email_failed")),
    }


async def history_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    number = int(dialog_manager.dialog_data.get("history_page", 0))
    page = await _read(
        dialog_manager, lambda: extracts(dialog_manager).run(lambda s: s.history(user, number))
    )
    items = page.items if page is not None else []
    lines = []
    for item in items:
        line = (
            f"• {local_time(item.requested_at)} — {item.kind_label}, {item.subject}: "
            f"{item.status_label}"
        )
        if item.emailed:
            line += ", копия отправлена на почту"
        lines.append(line)
    return {
        "lines": "\n".join(lines),
        "empty": page is not None and not items and number == 0,
        "empty_text": EMPTY_HISTORY,
        "files": [
            (
                str(item.document_id),
                clip(f"Скачать: {item.kind_label} от {local_time(item.requested_at)}", BUTTON_TEXT),
            )
            for item in items
            if item.document_id is not None
        ],
        "has_previous": page is not None and page.has_previous,
        "has_next": page is not None and page.has_next,
        "page_line": f"Страница {number + 1}" if page and (page.has_next or number) else "",
    }
