"""Errors that reach the person as a short Russian answer, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, Update
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState

from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from services.core.errors import SessionRequired

log = logging.getLogger(__name__)

STALE = "Эта кнопка устарела. Вот актуальное меню."
EXPIRED = "Сеанс завершён из-за бездействия. Чтобы продолжить, войдите снова."
SIGN_IN = "Чтобы продолжить, войдите в учётную запись."
UNAVAILABLE = "Сервис временно недоступен. Пожалуйста, повторите через несколько минут."
UNAVAILABLE_DELETED = (
    "Сервис временно недоступен. Ваше сообщение удалено из чата, чтобы в нём не остались "
    "личные данные. Пожалуйста, повторите через несколько минут."
)


async def _tell(event: ErrorEvent, text: str) -> None:
    await _answer(event.update, text)


async def _answer(update: Update, text: str, bot: Bot | None = None) -> None:
    """Tell the person `text`: an alert on a pressed button, else a message in the chat."""
    if bot is not None:
        update = update.as_(bot)
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text, show_alert=True)
        except TelegramBadRequest:
            log.info("callback %s was too old to answer", update.callback_query.id)
    elif update.message is not None:
        await update.message.answer(text)


async def tell_unavailable(update: Update, bot: Bot) -> None:
    """«Сервис временно недоступен…» for an update the storage could not serve.

    Needs nothing but the Bot API: the database and the conversation state may be down.
    A text typed in a private chat is deleted first: the step it was meant for is not
    known (the state is unreadable), and it may be a password.
    """
    update = update.as_(bot)
    message = update.message
    if (
        message is not None
        and message.chat.type == "private"
        and message.text is not None
        and not message.text.startswith("/")
    ):
        try:
            await message.delete()
        except TelegramAPIError:
            log.info("message %s could not be deleted", message.message_id)
        else:
            await message.answer(UNAVAILABLE_DELETED)
            return
    await _answer(update, UNAVAILABLE, bot)


async def on_stale(event: ErrorEvent, dialog_manager: DialogManager, **data: Any) -> None:
    log.info("stale dialog event: %s", type(event.exception).__name__)
    await _tell(event, STALE)
    state = MainMenu.main if data.get("current_user") else SignIn.welcome
    await dialog_manager.start(state, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def on_session_required(
    event: ErrorEvent, dialog_manager: DialogManager, **data: Any
) -> None:
    text = EXPIRED if data.get("session_expired") else SIGN_IN
    update = event.update
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except TelegramBadRequest:
            pass
    chat = data.get("event_chat")
    bot = data.get("bot")
    if chat is not None and bot is not None:
        await bot.send_message(chat.id, text)
    await dialog_manager.start(SignIn.login, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def on_unexpected(event: ErrorEvent) -> None:
    log.error(
        "unhandled %s in update %s",
        type(event.exception).__name__,
        event.update.update_id,
        exc_info=event.exception,
    )
    try:
        await _tell(event, UNAVAILABLE)
    except Exception:
        log.exception("could not tell the person about an error")


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(
        on_stale, ExceptionTypeFilter(UnknownIntent, UnknownState, OutdatedIntent)
    )
    router.errors.register(on_session_required, ExceptionTypeFilter(SessionRequired))
    router.errors.register(on_unexpected)
    return router
