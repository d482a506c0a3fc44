"""What the buttons of «Результаты анализов» do: pages, the filter, a result, its file, a chart."""

from __future__ import annotations

from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.chat.ask.states import AskDoctor
from dialogs.core.card import principal
from dialogs.core.common import chat_id, clear_error, ctx, guarded, work
from dialogs.record.labs.getters import result_id_of
from dialogs.record.labs.states import LabResults
from services.record.labs import LabCharts, LabFiles


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = max(0, int(manager.dialog_data.get("page", 0)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 0)) + 1


async def on_open(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    clear_error(manager)
    manager.dialog_data["result_id"] = int(item_id)
    await manager.switch_to(LabResults.detail)


async def on_test(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    clear_error(manager)
    manager.dialog_data["test"] = item_id
    manager.dialog_data["page"] = 0
    await manager.switch_to(LabResults.main)


async def on_all_tests(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["test"] = None
    manager.dialog_data["page"] = 0
    await manager.switch_to(LabResults.main)


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("result_id", None)
    await manager.switch_to(LabResults.main)


async def on_download(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = await principal(manager)
    result_id = result_id_of(manager)
    if result_id is None:
        return

    async def send() -> None:
        file = await LabFiles(work(manager), ctx(manager)).download(user, result_id)
        assert callback.bot is not None
        await callback.bot.send_document(
            chat_id(manager),
            BufferedInputFile(file.data, filename=file.file_name),
            protect_content=True,
        )

    if await guarded(manager, send):
        # The file is below the window now: show the window again under it.
        manager.show_mode = ShowMode.SEND


async def on_trend(callback: CallbackQuery, _w: Any, manager: DialogManager, code: str) -> None:
    user = await principal(manager)

    async def send() -> None:
        chart = await LabCharts(work(manager), ctx(manager)).chart(user, code)
        assert callback.bot is not None
        await callback.bot.send_photo(
            chat_id(manager),
            BufferedInputFile(chart.png, filename="dinamika.png"),
            caption=chart.caption,
            protect_content=True,
        )

    if await guarded(manager, send):
        manager.show_mode = ShowMode.SEND


async def on_ask(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Спросить врача» with this result linked to the question (dialogs.chat)."""
    result_id = result_id_of(manager)
    if result_id is not None:
        await manager.start(AskDoctor.doctor, data={"origin": "lab_result", "origin_id": result_id})
