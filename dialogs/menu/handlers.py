from __future__ import annotations

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, current_user, user_id
from dialogs.enrolment.application.handlers import open_application
from dialogs.identity.password.states import ChangePassword
from dialogs.identity.signin.states import SignIn


async def on_application(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await open_application(manager)


async def on_change_password(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    current_user(manager)
    await manager.start(ChangePassword.current)


async def on_logout(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Выйти»: the start screen opens with «Вы вышли из учётной записи.» at its top.

    The button is not answered here: aiogram-dialog answers every callback once
    after its handler, and a second answer is refused by Telegram (a warning in
    the log on every sign-out). What the person needs to read is on the screen.
    """
    await auth(manager).run(lambda s: s.logout(user_id(manager)))
    await manager.start(SignIn.welcome, mode=StartMode.RESET_STACK, data={"signed_out": True})
