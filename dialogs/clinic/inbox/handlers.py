"""What the buttons of «Входящие выписки» do: a forged id is refused by the service."""

from __future__ import annotations

from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.clinic.inbox.getters import inbox, staff_of
from dialogs.clinic.inbox.states import ColleagueInboxStates
from dialogs.core.common import chat_id, clear_error, current_user, guarded


async def on_item(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data["extract"] = int(item_id)
    await manager.switch_to(ColleagueInboxStates.item)


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = max(1, int(manager.dialog_data.get("page", 1)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 1)) + 1


async def on_download(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    staff = staff_of(manager)
    extract_id = int(manager.dialog_data.get("extract", 0))

    async def send() -> None:
        file = await inbox(manager).run(lambda s: s.file(user, staff, extract_id))
        assert callback.bot is not None
        await callback.bot.send_document(
            chat_id(manager),
            BufferedInputFile(file.data, filename=file.file_name),
            protect_content=True,
        )

    if await guarded(manager, send):
        manager.show_mode = ShowMode.SEND
