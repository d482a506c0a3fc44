"""What the status window shows, read through ApplicationService.status()."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import (
    MAX_MESSAGE,
    applications,
    clip,
    current_user,
    local_time,
    text_length,
)
from dialogs.enrolment.status.contract import StatusStart
from services.enrolment.application import StatusView
from services.enrolment.statuses import ApplicationStatus as Status

STATUS_TEXT_LIMIT = MAX_MESSAGE - 300

NO_APPLICATION = (
    "Статус заявки\n\nУ вас пока нет заявления на электронную медицинскую карту. "
    "Чтобы открыть карту, заполните заявление: нажмите «Заявление на ЭМК»."
)

_ADVICE: dict[str, str] = {
    Status.DRAFT: "Заявление ещё не отправлено. Заполните его до конца и отправьте.",
    Status.ACCEPTED: "Заявка в очереди на проверку. Мы сообщим, когда начнём её проверять.",
    Status.IN_WORK: "Проверяем данные и документы. Мы сообщим о результате в этом чате.",
    Status.OPENED: "Электронная медицинская карта открыта.",
    Status.NEEDS_FIX: (
        "Нажмите «Исправить заявку», чтобы изменить данные, или «Добавить документ». "
        "Затем отправьте заявление снова."
    ),
}


def _history(view: StatusView) -> list[str]:
    """One line per change; the reasons of earlier ones (the current ones are shown above)."""
    lines = []
    last = len(view.history) - 1
    for index, entry in enumerate(view.history):
        lines.append(f"{local_time(entry.at)} — {entry.status_text}")
        if index != last or entry.reasons != view.reasons:
            lines.extend(f"   • {reason}" for reason in entry.reasons)
    return lines


def status_text(view: StatusView, notice: str | None = None) -> str:
    head: list[str] = []
    if notice:
        head += [f"ℹ️ {notice}", ""]
    head.append("Статус заявки")
    head.append("")
    if view.number:
        head.append(f"Заявка № {view.number}")
    head.append(f"Статус: {view.status_text}")
    if view.submitted_at is not None:
        head.append(f"Отправлена: {local_time(view.submitted_at)} (МСК)")
    if view.reasons:
        title = "Причина отказа:" if view.status == Status.REJECTED else "Что нужно исправить:"
        head += ["", title]
        head += [f"• {reason}" for reason in view.reasons]
    if view.queue_ahead is not None and view.status == Status.ACCEPTED:
        head += ["", f"Заявок в очереди перед вашей: {view.queue_ahead}."]
    if view.eta_minutes is not None:
        if view.status != Status.ACCEPTED:
            head.append("")
        head.append(f"Примерное время ожидания: около {view.eta_minutes} мин.")
    advice = _ADVICE.get(view.status)
    if advice:
        head += ["", advice]
    history = _history(view)
    if not history:
        return clip("\n".join(head), STATUS_TEXT_LIMIT)
    # The newest entries matter most: drop the oldest ones if the text is too long.
    title = "История (время московское):"
    while True:
        text = "\n".join([*head, "", title, *history])
        if text_length(text) <= STATUS_TEXT_LIMIT or len(history) <= 1:
            return clip(text, STATUS_TEXT_LIMIT)
        history = history[1:]


async def status_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    view = await applications(dialog_manager).run(lambda s: s.status(user))
    notice = StatusStart.from_data(dialog_manager.start_data).notice
    if view is None:
        return {
            "text": NO_APPLICATION,
            "has": False,
            "can_apply": True,
            "can_fix": False,
            "apply_label": "Заявление на ЭМК",
        }
    return {
        "text": status_text(view, notice),
        "has": True,
        "can_apply": view.status == Status.DRAFT,
        "can_fix": view.can_fix,
        "apply_label": "Продолжить заявление",
    }
