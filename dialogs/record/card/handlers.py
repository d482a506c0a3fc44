"""What the windows of «Моя медкарта» do: open sections and entries, page, download, add.

The entry a button opens is read by the service within the person's own record,
so a forged button with someone else's id shows a refusal, never their data.
A file is refused by the size Telegram declares before it is downloaded; its
content is judged by the service. A refusal keeps the kind, title and date
already entered and asks for the file again.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.card import card_start, is_own, principal
from dialogs.core.common import (
    chat_id,
    clear_error,
    ctx,
    guarded,
    set_error,
)
from dialogs.core.uploads import attachment, download
from dialogs.record.card.getters import own_documents, record_files
from dialogs.record.card.states import RecordCard
from dialogs.record.extracts.states import Extracts
from dialogs.record.labs.states import LabResults
from services.core.access import Permission
from services.core.errors import DomainError, SessionRequired
from services.record.own_documents import (
    check_declared_size,
    parse_kind,
    validate_document_date,
    validate_title,
)
from services.record.sections import SECTION_TITLES, msk_today

log = logging.getLogger(__name__)

NOT_A_FILE = (
    "Здесь нужен документ: пришлите файл или фотографию (JPG, PNG или PDF до 5 МБ). "
    "Чтобы не добавлять документ, нажмите «Отмена»."
)
ADD_KEYS = ("add_kind", "add_title", "add_date")
OWNER_ONLY_ADD = "Добавлять документы в медкарту может только её владелец."


async def on_section(_c: CallbackQuery, _w: Any, manager: DialogManager, section: str) -> None:
    if section not in SECTION_TITLES:  # a stale or forged button
        return
    clear_error(manager)
    data = manager.dialog_data
    data.pop("result", None)
    data["section"], data["page"] = section, 1
    await manager.switch_to(RecordCard.section)


async def on_entry(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data["entry_id"] = int(item_id)
    await manager.switch_to(RecordCard.entry)


async def on_previous(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("result", None)
    manager.dialog_data["page"] = max(1, int(manager.dialog_data.get("page", 1)) - 1)


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("result", None)
    manager.dialog_data["page"] = int(manager.dialog_data.get("page", 1)) + 1


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("result", None)
    await manager.switch_to(RecordCard.section)


async def on_download(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """Send the entry's file as a document that can't be forwarded or saved (protect_content)."""
    document_id = manager.dialog_data.get("file_document_id")
    if document_id is None:
        return
    user = await principal(manager)

    async def send() -> None:
        file = await record_files(manager).download(user, user.subject_account_id, int(document_id))
        assert callback.bot is not None
        await callback.bot.send_document(
            chat_id(manager),
            BufferedInputFile(file.data, filename=file.file_name),
            protect_content=True,
        )

    if await guarded(manager, send):
        # The file is below the window now: show the window again under it.
        manager.show_mode = ShowMode.SEND


on_labs = card_start(LabResults.main)
# «Выписки и заключения» hold files and signed extracts: from «просмотр и скачивание».
on_extracts = card_start(Extracts.main, Permission.DOWNLOAD)


# -- «Добавить документ» ------------------------------------------------------------


async def on_add(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    if not is_own(manager):  # a forged press on someone else's card
        set_error(manager, OWNER_ONLY_ADD)
        return
    clear_error(manager)
    for key in (*ADD_KEYS, "result"):
        manager.dialog_data.pop(key, None)
    await manager.switch_to(RecordCard.add_kind)


async def on_kind(_c: CallbackQuery, _w: Any, manager: DialogManager, kind: str) -> None:
    try:
        manager.dialog_data["add_kind"] = parse_kind(kind)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    await manager.switch_to(RecordCard.add_title)


async def on_title(_m: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["add_title"] = validate_title(text)
    await manager.switch_to(RecordCard.add_date)


async def on_date(_m: Message, manager: DialogManager, text: str) -> None:
    when = validate_document_date(text, msk_today(ctx(manager)))
    manager.dialog_data["add_date"] = when.strftime("%d.%m.%Y")
    await manager.switch_to(RecordCard.add_file)


async def on_cancel_add(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    for key in ADD_KEYS:
        manager.dialog_data.pop(key, None)
    manager.dialog_data["section"] = "documents"
    await manager.switch_to(RecordCard.section)


async def on_file(message: Message, _widget: Any, manager: DialogManager) -> None:
    clear_error(manager)
    user = await principal(manager)
    data = manager.dialog_data
    if not all(data.get(key) for key in ADD_KEYS):  # the steps before were not taken
        await manager.switch_to(RecordCard.add_kind)
        return
    item, file_name = attachment(message)
    try:
        check_declared_size(item.file_size)
        content = await download(message, item)
        added = await own_documents(manager).add(
            user,
            user.subject_account_id,
            kind=str(data["add_kind"]),
            title=str(data["add_title"]),
            document_date=str(data["add_date"]),
            data=content,
            file_name=file_name,
        )
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return
    for key in ADD_KEYS:
        data.pop(key, None)
    data["result"] = f"Документ «{added.title}» добавлен в медкарту."
    data["section"], data["page"] = "documents", 1
    await manager.switch_to(RecordCard.section)


async def on_not_file(_m: Message, _w: Any, manager: DialogManager) -> None:
    set_error(manager, NOT_A_FILE)
