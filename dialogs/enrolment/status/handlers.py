from __future__ import annotations

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import current_user
from dialogs.enrolment.application.handlers import open_application


async def on_refresh(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """Nothing to do: the window is drawn again with the status as it is now."""
    current_user(manager)


async def on_apply(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await open_application(manager)
