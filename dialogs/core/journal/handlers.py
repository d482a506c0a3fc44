from __future__ import annotations

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import clear_error


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = max(1, int(manager.dialog_data.get("page", 1)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 1)) + 1
