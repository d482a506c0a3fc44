"""Reaching the chat's use cases from the dialogs, and the parts its windows share."""

from __future__ import annotations

from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode

from dialogs.core.card import principal
from dialogs.core.common import chat_id, ctx, local_time, set_error, work
from dialogs.core.uploads import attachment, download
from services.chat.service import (
    ChatSender,
    ChatService,
    PatientSide,
    ThreadView,
    check_declared_size,
)
from services.core.access import NOT_PERMITTED_REASONS, DoctorPrincipal, Permission
from services.core.errors import AccessDenied, DomainError, SessionRequired
from services.core.work import UseCases

# A window's text stays well inside Telegram's 4096 characters.
THREAD_LIMIT = 3500
ATTACH_HINT = "Пришлите файл JPG, PNG или PDF до 5 МБ или нажмите «Отправить без файла»."
NOT_A_FILE = "Пришлите файл JPG, PNG или PDF до 5 МБ документом или фото."


def chat(manager: DialogManager) -> UseCases[ChatService]:
    return UseCases(work(manager), ctx(manager), ChatService)


def sender(manager: DialogManager) -> ChatSender:
    return ChatSender(work(manager), ctx(manager))


async def patient_side(manager: DialogManager) -> PatientSide:
    """The person asking: themselves, or the one a card was shared with (never a doctor)."""
    who = await principal(manager)
    if isinstance(who, DoctorPrincipal):
        raise AccessDenied(NOT_PERMITTED_REASONS[Permission.MESSAGE_DOCTOR])
    return who


def int_from(data: Any, key: str) -> int | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


AUTHOR_NAMES = {"patient": "Пациент", "relative": "Представитель пациента", "doctor": "Врач"}


def thread_text(view: ThreadView, *, for_doctor: bool) -> str:
    """The thread as a window shows it: the latest messages that fit, the newest last."""
    head = [
        f"Пациент: {view.patient}" if for_doctor else f"Врач: {view.doctor}",
        f"Состояние: {view.state_text}",
    ]
    if view.origin_label:
        head.append(f"К вопросу: {view.origin_label}")
    lines: list[str] = []
    for message in view.messages:
        if message.author == "doctor":
            who = "Врач" if for_doctor else f"Врач {message.author_name}"
        elif message.author == "relative":
            who = f"Представитель пациента {message.author_name}".strip()
        else:
            who = "Пациент" if for_doctor else "Вы"
        file_line = f"\n📎 {message.file_name}" if message.file_name else ""
        lines.append(f"{local_time(message.at)} — {who}:\n{message.text}{file_line}")
    text = "\n".join(head)
    body: list[str] = []
    for line in reversed(lines):
        if len(text) + sum(len(b) + 2 for b in body) + len(line) > THREAD_LIMIT:
            body.append("…ранние сообщения не поместились")
            break
        body.append(line)
    return text + "\n\n" + "\n\n".join(reversed(body))


def file_buttons(view: ThreadView) -> list[tuple[str, str]]:
    return [(str(m.message_id), f"📎 {m.file_name}"[:60]) for m in view.messages if m.file_name][
        -10:
    ]


async def read_file(message: Message, manager: DialogManager) -> tuple[bytes, str | None] | None:
    """The file of the message, checked by its declared size first; None: shown as an error."""
    if message.document is None and not message.photo:
        set_error(manager, NOT_A_FILE)
        return None
    item, file_name = attachment(message)
    try:
        check_declared_size(item.file_size)
        return await download(message, item), file_name
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return None


async def send_file(
    callback: CallbackQuery, manager: DialogManager, data: bytes, file_name: str
) -> None:
    assert callback.bot is not None
    await callback.bot.send_document(
        chat_id(manager), BufferedInputFile(data, filename=file_name), protect_content=True
    )
    # The file is below the window now: show the window again under it.
    manager.show_mode = ShowMode.SEND
