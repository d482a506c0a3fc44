from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import applications, auth, current_user, local_time


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    record_open = await applications(dialog_manager).run(lambda s: s.record_open(user))
    return {"name": user.display_name, "record_open": record_open}


async def history_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    entries = await auth(dialog_manager).run(lambda s: s.login_history(user))
    lines = [f"{local_time(e.at)} — {e.outcome_text}" for e in entries]
    return {
        "history": "\n".join(lines) if lines else "Попыток входа пока не было.",
    }
