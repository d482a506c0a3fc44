"""What «Вопросы пациентов» shows, read through services.chat (each read journaled there)."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.chat.common import chat, file_buttons, int_from, thread_text
from dialogs.core.common import current_user, set_error
from services.chat.service import Inbox, ThreadView
from services.core.errors import DomainError, SessionRequired

NOT_DOCTOR = "Вопросы пациентов доступны только врачам, чья работа в организации подтверждена."


async def staff_id_of(manager: DialogManager) -> int | None:
    """The doctor row the questions are read as: the cabinet's, else the account's first."""
    chosen = int_from(manager.dialog_data, "staff_id")
    if chosen is None:
        chosen = int_from(manager.start_data, "staff_id")
    if chosen is None:
        user = current_user(manager)
        chosen = await chat(manager).run(lambda s: s.doctor_staff(user))
    if chosen is not None:
        manager.dialog_data["staff_id"] = chosen
    return chosen


def thread_id_of(manager: DialogManager) -> int | None:
    chosen = int_from(manager.dialog_data, "thread_id")
    return chosen if chosen is not None else int_from(manager.start_data, "thread_id")


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    inbox: Inbox | None = None
    staff_id = await staff_id_of(dialog_manager)
    number = int_from(dialog_manager.dialog_data, "page") or 0
    if staff_id is None:
        set_error(dialog_manager, NOT_DOCTOR)
    else:
        try:
            inbox = await chat(dialog_manager).run(lambda s: s.inbox(user, staff_id, number))
        except SessionRequired:
            raise
        except DomainError as exc:
            set_error(dialog_manager, exc.message)
    if inbox is not None:
        dialog_manager.dialog_data["page"] = inbox.page
    if inbox is None:
        summary = ""
    elif not inbox.threads:
        summary = "Открытых вопросов нет."
    else:
        summary = f"Ждут ответа: {inbox.waiting}. Сначала — те, что ждут дольше."
    return {
        "summary": summary,
        "page_line": inbox.page_line if inbox else "",
        "threads": [(str(t.thread_id), t.button) for t in inbox.threads] if inbox else [],
        "has_previous": bool(inbox and inbox.has_previous),
        "has_next": bool(inbox and inbox.has_next),
    }


async def thread_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    staff_id = await staff_id_of(dialog_manager)
    thread_id = thread_id_of(dialog_manager)
    view: ThreadView | None = None
    if staff_id is not None and thread_id is not None:
        try:
            view = await chat(dialog_manager).run(
                lambda s: s.doctor_thread(user, staff_id, thread_id)
            )
        except SessionRequired:
            raise
        except DomainError as exc:
            set_error(dialog_manager, exc.message)
    if view is not None:
        dialog_manager.dialog_data["patient"] = view.patient_account_id
    return {
        "text": thread_text(view, for_doctor=True) if view else "",
        "can_answer": bool(view and view.open),
        "has_thread": view is not None,
        "files": file_buttons(view) if view else [],
    }
