"""Helpers every flow shares: reaching services, showing errors, reading input.

The widgets every window shows (the error line, «Назад», «В меню», «Отмена») are
in `dialogs.core.widgets`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import Message
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.widgets.input import MessageInput

from services.core.access import CurrentUser
from services.core.context import AppContext
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases, Work
from services.enrolment.application import ApplicationService
from services.enrolment.documents import DocumentService, DocumentUploads
from services.identity.auth import AuthService, Passwords

log = logging.getLogger(__name__)

MOSCOW = ZoneInfo("Europe/Moscow")
# No answer in any form needs more; Telegram itself stops at 4096 characters.
MAX_TEXT = 1000
# Telegram's limit for the text of one message (in UTF-16 code units).
MAX_MESSAGE = 4096


def _state(manager: DialogManager) -> str | None:
    return manager.current_context().state.state


USE_BUTTONS = "Пожалуйста, воспользуйтесь кнопками под сообщением."

NOT_TEXT = "Здесь нужен ответ текстом. Пожалуйста, напишите его сообщением."
TOO_LONG = "Сообщение слишком длинное. Пожалуйста, напишите короче."
UNKNOWN_COMMAND = (
    "Такой команды нет. Ответьте на вопрос выше или воспользуйтесь командами /menu и /logout."
)


def ctx(manager: DialogManager) -> AppContext:
    context: AppContext = manager.middleware_data["ctx"]
    return context


def work(manager: DialogManager) -> Work:
    factory: Work = manager.middleware_data["work"]
    return factory


def auth(manager: DialogManager) -> UseCases[AuthService]:
    """Sign-in use cases, each run in a unit of work of its own."""
    return UseCases(work(manager), ctx(manager), AuthService)


def applications(manager: DialogManager) -> UseCases[ApplicationService]:
    return UseCases(work(manager), ctx(manager), ApplicationService)


def documents(manager: DialogManager) -> UseCases[DocumentService]:
    return UseCases(work(manager), ctx(manager), DocumentService)


def passwords(manager: DialogManager) -> Passwords:
    """Use cases that check or set a password (argon2 runs between units of work)."""
    return Passwords(work(manager), ctx(manager))


def uploads(manager: DialogManager) -> DocumentUploads:
    """Uploading a document (the file is judged before any unit of work opens)."""
    return DocumentUploads(work(manager), ctx(manager))


def user_id(manager: DialogManager) -> int:
    user = manager.event.from_user  # type: ignore[union-attr]
    assert user is not None
    return int(user.id)


def chat_id(manager: DialogManager) -> int:
    chat = manager.middleware_data.get("event_chat")
    return int(chat.id) if chat is not None else user_id(manager)


def current_user(manager: DialogManager) -> CurrentUser:
    """The signed-in person, checked at this moment; otherwise ask to sign in."""
    user: CurrentUser | None = manager.middleware_data.get("current_user")
    if user is None:
        raise SessionRequired("Чтобы продолжить, войдите в учётную запись.")
    return user


def set_error(manager: DialogManager, text: str) -> None:
    """Show `text` in the current window (and only there) until the next answer."""
    manager.dialog_data["error"] = text
    manager.dialog_data["error_state"] = _state(manager)


def current_error(manager: DialogManager) -> str | None:
    """The error to show in the current window (`set_error` there), if any."""
    data = manager.dialog_data
    error = data.get("error")
    if not error or data.get("error_state") != _state(manager):
        return None
    return str(error)


def clear_error(manager: DialogManager) -> None:
    manager.dialog_data.pop("error", None)
    manager.dialog_data.pop("error_state", None)


def buttons_only(*, delete: bool = False, hint: str = USE_BUTTONS) -> MessageInput:
    """For windows that ask for a button: any message gets a hint and the window again.

    With `delete` (the steps around a password, where a person may type it
    again), the message is deleted at once, before anything else.
    """

    async def handler(message: Message, _widget: Any, manager: DialogManager) -> None:
        if delete:
            await delete_quietly(message)
            # The person's message is gone, so the window is the last message again.
            manager.show_mode = ShowMode.EDIT
        set_error(manager, hint)

    return MessageInput(handler)


def local_time(moment: datetime) -> str:
    return moment.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")


def text_length(text: str) -> int:
    """The length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (Telegram's count), marked with «…»."""
    if text_length(text) <= limit:
        return text
    cut = text[:limit]
    while text_length(cut) > limit - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"


def split_pages(text: str, limit: int) -> list[str]:
    """Split a long text into pages of at most `limit`, at paragraph breaks when possible."""
    pages: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if text_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            pages.append(current)
        while text_length(paragraph) > limit:
            head = clip(paragraph, limit)[:-1]
            pages.append(head)
            paragraph = paragraph[len(head) :].lstrip()
        current = paragraph
    if current or not pages:
        pages.append(current)
    return pages


TextHandler = Callable[[Message, DialogManager, str], Awaitable[None]]


def text_input(
    on_text: TextHandler, *, secret: bool = False, id: str | None = None
) -> MessageInput:
    """An input that takes text and refuses anything else with a Russian explanation.

    A domain error raised by `on_text` is shown in the same window and the
    question is asked again; what was entered in earlier steps stays. With
    `secret`, the person's message is deleted at once, before anything else.
    """

    async def handler(message: Message, _widget: Any, manager: DialogManager) -> None:
        if secret:
            await delete_quietly(message)
            # The person's message is gone, so the window is the last message again.
            manager.show_mode = ShowMode.EDIT
        text = message.text
        if text is None:
            set_error(manager, NOT_TEXT)
            return
        if len(text) > MAX_TEXT:
            set_error(manager, TOO_LONG)
            return
        if text.startswith("/") and not secret:
            set_error(manager, UNKNOWN_COMMAND)
            return
        clear_error(manager)
        try:
            await on_text(message, manager, text)
        except DomainError as exc:
            if isinstance(exc, SessionRequired):
                raise
            set_error(manager, exc.message)

    return MessageInput(handler, id=id)


async def delete_quietly(message: Message) -> None:
    try:
        await message.delete()
    except Exception:  # the message may already be gone; never echo or log its text
        log.warning("could not delete a secret message %s", message.message_id)


async def guarded(manager: DialogManager, action: Callable[[], Awaitable[None]]) -> bool:
    """Run a button's action; a domain error is shown in the window. True on success."""
    clear_error(manager)
    try:
        await action()
    except DomainError as exc:
        if isinstance(exc, SessionRequired):
            raise
        set_error(manager, exc.message)
        return False
    return True
