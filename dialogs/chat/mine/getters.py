"""What «Мои вопросы» shows, read through services.chat (each read journaled there)."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.chat.common import chat, file_buttons, int_from, patient_side, thread_text
from dialogs.core.common import set_error
from services.chat.service import ThreadLine, ThreadView
from services.core.errors import DomainError, SessionRequired

EMPTY = "Вы ещё не задавали вопросов врачам. Нажмите «Задать вопрос»."


def thread_id_of(manager: DialogManager) -> int | None:
    chosen = int_from(manager.dialog_data, "thread_id")
    return chosen if chosen is not None else int_from(manager.start_data, "thread_id")


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    lines: list[ThreadLine] = []
    try:
        who = await patient_side(dialog_manager)
        lines = await chat(dialog_manager).run(lambda s: s.threads(who))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
    text = "\n".join(f"• {line.button}" for line in lines) if lines else EMPTY
    return {
        "summary": text,
        "threads": [(str(line.thread_id), line.button) for line in lines],
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
