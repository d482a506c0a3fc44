"""What the document windows do: choose a slot, take a file, hand it to DocumentService.

A file is refused by the size Telegram declares before it is downloaded; the
content is judged by the service. A refusal is shown in the same window and
the slot stays as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import clear_error, current_user, documents, guarded, set_error, uploads
from dialogs.core.uploads import attachment, download
from dialogs.enrolment.documents.getters import SLOT_LABEL, file_summary
from dialogs.enrolment.documents.states import ApplicationDocuments
from services.core.errors import DomainError, SessionRequired
from services.enrolment.documents import DocumentService

log = logging.getLogger(__name__)

NOT_A_FILE = (
    "Здесь нужен документ: пришлите файл или фотографию (JPG, PNG или PDF до 5 МБ). "
    "Чтобы вернуться к списку, нажмите «К списку документов»."
)


async def on_slot(_c: CallbackQuery, _w: Any, manager: DialogManager, slot: str) -> None:
    if slot not in SLOT_LABEL:  # a stale or forged button
        return
    clear_error(manager)
    manager.dialog_data.pop("result", None)
    manager.dialog_data["slot"] = slot
    await manager.switch_to(ApplicationDocuments.upload)


async def on_remove(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    slot = manager.dialog_data["slot"]

    async def remove() -> None:
        await documents(manager).run(lambda s: s.remove(current_user(manager), slot))

    if await guarded(manager, remove):
        manager.dialog_data["result"] = f"Документ «{SLOT_LABEL[slot]}» удалён."
        await manager.switch_to(ApplicationDocuments.slots)


async def on_file(message: Message, _widget: Any, manager: DialogManager) -> None:
    clear_error(manager)
    user = current_user(manager)
    slot = manager.dialog_data["slot"]
    item, file_name = attachment(message)
    try:
        DocumentService.check_declared_size(item.file_size)
        data = await download(message, item)
        result = await uploads(manager).upload(user, slot, data, file_name)
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return
    lines = [f"Документ «{result.label}» принят: {file_summary(result.kind, result.size)}."]
    if result.duplicate_of_label:
        lines.append(
            f"Это тот же файл, что и в разделе «{result.duplicate_of_label}». Если это ошибка, "
            "пришлите в один из разделов нужный документ."
        )
    manager.dialog_data["result"] = "\n".join(lines)
    await manager.switch_to(ApplicationDocuments.slots)


async def on_not_file(message: Message, _widget: Any, manager: DialogManager) -> None:
    set_error(manager, NOT_A_FILE)
