"""What «Мои вопросы» shows, read through services.chat (each read journaled there)."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.chat.common import chat, file_buttons, int_from, patient_side, thread_text
from dialogs.core.common import set_error
from services.chat.service import ThreadsPage, ThreadView
from services.core.errors import DomainError, SessionRequired

EMPTY = "Вы ещё не задавали вопросов врачам. Нажмите «Задать вопрос»."


def thread_id_of(manager: DialogManager) -> int | None:
    chosen = int_from(manager.dialog_data, "thread_id")
    return chosen if chosen is not None else int_from(manager.start_data, "thread_id")


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    page: ThreadsPage | None = None
    number = int_from(dialog_manager.dialog_data, "page") or 0
    try:
        who = await patient_side(dialog_manager)
        page = await chat(dialog_manager).run(lambda s: s.threads(who, number))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
    lines = page.threads if page else []
    if page is not None:
        dialog_manager.dialog_data["page"] = page.page
    text = "\n".join(f"• {line.button}" for line in lines) if lines else EMPTY
    return {
        "summary": text,
        "page_line": page.page_line if page else "",
        "threads": [(str(line.thread_id), line.button) for line in lines],
        "has_previous": bool(page and page.has_previous),
        "has_next": bool(page and page.has_next),
    }


async def thread_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    thread_id = thread_id_of(dialog_manager)
    view: ThreadView | None = None
    if thread_id is not None:
        try:
            who = await patient_side(dialog_manager)
            view = await chat(dialog_manager).run(lambda s: s.thread(who, thread_id))
        except SessionRequired:
            raise
        except DomainError as exc:
            set_error(dialog_manager, exc.message)
    return {
        "text": thread_text(view, for_doctor=False) if view else "",
        "can_write": bool(view and view.open),
        "files": file_buttons(view) if view else [],
        "closed": bool(view and not view.open),
    }
