from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import current_user


async def guard_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    current_user(dialog_manager)
    return {"ended": dialog_manager.dialog_data.get("ended", 0)}
