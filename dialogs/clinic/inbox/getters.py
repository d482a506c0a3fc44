"""What «Входящие выписки» shows, read through services.record.colleague."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx, current_user, local_time, set_error, work
from services.core.errors import DomainError
from services.core.work import UseCases
from services.record.colleague import ColleagueInbox

STAFF = "staff"


def inbox(manager: DialogManager) -> UseCases[ColleagueInbox]:
    return UseCases(work(manager), ctx(manager), ColleagueInbox)


def staff_of(manager: DialogManager) -> int:
    data = manager.start_data
    staff = data.get(STAFF) if isinstance(data, dict) else None
    return staff if isinstance(staff, int) and not isinstance(staff, bool) else 0


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    staff = staff_of(dialog_manager)
    number = int(dialog_manager.dialog_data.get("page", 1))
    try:
        page = await inbox(dialog_manager).run(lambda s: s.page(user, staff, number))
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"items": [], "summary": "", "has_previous": False, "has_next": False}
    summary = (
        f"Всего: {page.total}. Страница {page.number} из {page.pages}."
        if page.total
        else "Коллеги пока не присылали вам выписок."
    )
    return {
        "items": [(str(i.extract_id), i.label) for i in page.items],
        "summary": summary,
        "has_previous": page.has_previous,
        "has_next": page.has_next,
    }


async def item_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    staff = staff_of(dialog_manager)
    extract_id = int(dialog_manager.dialog_data.get("extract", 0))
    try:
        detail = await inbox(dialog_manager).run(lambda s: s.open(user, staff, extract_id))
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"text": "Выписка недоступна.", "has_file": False}
    lines = [
        f"Выписка: {detail.title}",
        f"Пациент: {detail.patient}",
        f"Отправитель: {detail.sender}",
        f"Отправлено: {local_time(detail.sent_at)}",
    ]
    if detail.note:
        lines.append(f"\nСопроводительное письмо:\n{detail.note}")
    lines.append("\nPDF подписан электронной подписью медицинской организации.")
    return {"text": "\n".join(lines), "has_file": True}
