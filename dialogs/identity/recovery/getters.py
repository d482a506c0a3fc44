from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager


async def start_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    email = dialog_manager.dialog_data.get("email")
    return {"email": email or "", "can_send": bool(email)}
