"""/start (with deep links), /menu, /logout and the buttons of push messages."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode

from dialogs.enrolment.status.states import ApplicationStatus
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from handlers.errors import EXPIRED
from services.core.access import CurrentUser
from services.core.notify import OPEN_MENU, OPEN_STATUS
from services.identity.auth import AuthService

SIGN_IN_FOR_STATUS = "Чтобы посмотреть статус заявки, войдите в учётную запись."


async def open_home(manager: DialogManager, user: CurrentUser | None, *, welcome: bool) -> None:
    """The main menu for a signed-in person; the sign-in for anyone else."""
    if user is not None:
        await manager.start(MainMenu.main, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
    else:
        state = SignIn.welcome if welcome else SignIn.login
        await manager.start(state, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def on_start(
    message: Message,
    dialog_manager: DialogManager,
    current_user: CurrentUser | None,
    session_expired: bool = False,
) -> None:
    if session_expired:
        await message.answer(EXPIRED)
    await open_home(dialog_manager, current_user, welcome=not session_expired)


async def on_menu(
    message: Message,
    dialog_manager: DialogManager,
    current_user: CurrentUser | None,
    session_expired: bool = False,
) -> None:
    if session_expired:
        await message.answer(EXPIRED)
    await open_home(dialog_manager, current_user, welcome=False)


async def on_logout(message: Message, dialog_manager: DialogManager, **data: Any) -> None:
    assert message.from_user is not None
    ended = await AuthService(data["uow"], data["ctx"]).logout(message.from_user.id)
    await message.answer("Вы вышли из учётной записи." if ended else "Вы не были в системе.")
    await dialog_manager.start(SignIn.welcome, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def on_push_menu(
    callback: CallbackQuery, dialog_manager: DialogManager, current_user: CurrentUser | None
) -> None:
    await callback.answer()
    await open_home(dialog_manager, current_user, welcome=False)


async def on_push_status(
    callback: CallbackQuery, dialog_manager: DialogManager, current_user: CurrentUser | None
) -> None:
    """«Статус заявки» under a push message: the status, or the sign-in first."""
    if current_user is None:
        await callback.answer(SIGN_IN_FOR_STATUS, show_alert=True)
        await open_home(dialog_manager, None, welcome=False)
        return
    await callback.answer()
    await dialog_manager.start(
        ApplicationStatus.main, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND
    )


def build_router() -> Router:
    router = Router(name="commands")
    router.message.register(on_start, CommandStart())
    router.message.register(on_menu, Command("menu"))
    router.message.register(on_logout, Command("logout"))
    router.callback_query.register(on_push_menu, F.data == OPEN_MENU)
    router.callback_query.register(on_push_status, F.data == OPEN_STATUS)
    return router
