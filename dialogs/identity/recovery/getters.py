from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx


async def code_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    minutes = max(1, ctx(dialog_manager).policy.otp_ttl_seconds // 60)
    return {"lifetime": f"Код действует {minutes} мин."}
