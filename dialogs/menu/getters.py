from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.clinic.common import is_staff
from dialogs.core.common import applications, auth, ctx, current_user, local_time, user_id, work
from services.chat.service import ChatService
from services.core.work import UseCases
from services.sharing.grants import SharingService


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    record_open = await applications(dialog_manager).run(lambda s: s.record_open(user))
    tg = user_id(dialog_manager)
    cards = await UseCases(work(dialog_manager), ctx(dialog_manager), SharingService).run(
        lambda s: s.cards(tg, user)
    )
    # Answers of doctors not read yet: «Мои вопросы (N)».
    unread = await UseCases(work(dialog_manager), ctx(dialog_manager), ChatService).run(
        lambda s: s.unread(user)
    )
    # «Карты близких» only for someone a card was shared with: as on the portal, a section
    # that can hold nothing for this person is not offered (an invitation opens by its link).
    return {
        "name": user.display_name,
        "record_open": record_open,
        "has_cards": bool(cards),
        "is_staff": await is_staff(dialog_manager, user),
        "questions": f"Мои вопросы ({unread})" if unread else "Мои вопросы",
    }


async def history_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    entries = await auth(dialog_manager).run(lambda s: s.login_history(user))
    lines = [f"{local_time(e.at)} — {e.outcome_text}" for e in entries]
    return {
        "history": "\n".join(lines) if lines else "Попыток входа пока не было.",
    }
