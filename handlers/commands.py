"""/start (with deep links), /menu and /logout."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram_dialog import DialogManager, ShowMode, StartMode

from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from dialogs.sharing.accept.handlers import open_invitation_link
from dialogs.sharing.cards.handlers import open_relative_home
from handlers.errors import EXPIRED
from services.core.access import CurrentUser
from services.core.work import UseCases
from services.identity.auth import AuthService


async def open_home(manager: DialogManager, user: CurrentUser | None, *, welcome: bool) -> None:
    """The main menu for a signed-in person; the sign-in for anyone else."""
    if user is not None:
        await manager.start(MainMenu.main, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
    elif await open_relative_home(manager):
        return  # a relative without a session: their «Карты близких»
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
    tg_user = message.from_user.id
    auth = UseCases(data["work"], data["ctx"], AuthService)
    ended = await auth.run(lambda s: s.logout(tg_user))
    await message.answer("Вы вышли из учётной записи." if ended else "Вы не были в системе.")
    await dialog_manager.start(SignIn.welcome, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


def build_router() -> Router:
    router = Router(name="commands")
    router.message.register(
        open_invitation_link, CommandStart(deep_link=True, magic=F.args.startswith("inv_"))
    )
    router.message.register(on_start, CommandStart())
    router.message.register(on_menu, Command("menu"))
    router.message.register(on_logout, Command("logout"))
    return router
