"""What the journal window shows, read through JournalService.page()."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx, current_user, local_time, set_error, work
from services.core.errors import DomainError, SessionRequired
from services.core.journal import JournalService
from services.core.work import UseCases

NOTHING_YET = "Действий пока нет."


def journal(manager: DialogManager) -> UseCases[JournalService]:
    return UseCases(work(manager), ctx(manager), JournalService)


async def journal_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    data = dialog_manager.dialog_data
    number = int(data.get("page", 1))
    upto = data.get("upto")
    try:
        page = await journal(dialog_manager).run(
            lambda s: s.page(user, user.subject_account_id, number, upto)
        )
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"lines": "", "page_line": "", "has_previous": False, "has_next": False}
    # The pages stay as they were when the journal was opened (services.core.journal).
    data["upto"], data["page"] = page.upto, page.number
    # «Петров С. И. (доступ «просмотр и скачивание») открыл результаты анализов — 12.12.2026 10:14»
    lines = [f"{line.text} — {local_time(line.at)}" for line in page.lines]
    return {
        "lines": "\n".join(lines) if lines else NOTHING_YET,
        "page_line": f"Страница {page.number} из {page.pages}" if page.pages > 1 else "",
        "has_previous": page.has_previous,
        "has_next": page.has_next,
    }
