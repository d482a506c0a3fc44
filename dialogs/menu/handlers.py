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


SIGNED_OUT = "Вы вышли из учётной записи."


async def on_logout(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Выйти»: the button is answered at once, before the work.

    An answer after the work may come too late — Telegram refuses it as "query is
    too old", the error stops the handler, and the person sees neither «Вы вышли…»
    nor the start screen. (aiogram-dialog answers every callback once more after
    the handler; it logs that refusal of the second answer as a warning.)
    """
    await callback.answer(SIGNED_OUT)
    await auth(manager).run(lambda s: s.logout(user_id(manager)))
    await manager.start(SignIn.welcome, mode=StartMode.RESET_STACK)
