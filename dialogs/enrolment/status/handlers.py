from __future__ import annotations

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import current_user
from dialogs.enrolment.application.handlers import open_application
from dialogs.enrolment.application.states import ApplicationForm
from dialogs.enrolment.documents.states import ApplicationDocuments
from dialogs.menu.states import MainMenu


async def on_refresh(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """Nothing to do: the window is drawn again with the status as it is now."""
    current_user(manager)


async def on_fix(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    # The review of the same application: change fields, then send it again.
    await manager.start(ApplicationForm.field, data={"review": True})


async def on_add_document(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(ApplicationDocuments.slots)


async def on_apply(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await open_application(manager)


async def on_to_menu(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK)
