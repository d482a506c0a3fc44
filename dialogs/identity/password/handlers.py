from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, chat_id, current_user, user_id
from dialogs.core.otp.states import Otp
from dialogs.identity.password.states import ChangePassword
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from services.identity.auth import AccountLocked


async def on_current(message: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    try:
        await auth(manager).verify_current_password(user, text, user_id(manager))
    except AccountLocked:
        await manager.start(SignIn.locked, mode=StartMode.RESET_STACK)
        return
    manager.dialog_data["current_ok"] = True
    await manager.start(
        Otp.code,
        data={
            "account_id": user.account_id,
            "purpose": "change_password",
            "channel": "sms",
            "can_use_email": True,
        },
    )


async def on_code_result(_start_data: Any, result: Any, manager: DialogManager) -> None:
    if (
        isinstance(result, dict)
        and result.get("confirmed")
        and manager.dialog_data.get("current_ok")
    ):
        manager.dialog_data["code_ok"] = True
        await manager.switch_to(ChangePassword.new)
    else:
        await manager.done()


async def on_new(message: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    if not (manager.dialog_data.get("current_ok") and manager.dialog_data.get("code_ok")):
        await manager.switch_to(ChangePassword.current)
        return
    ended = await auth(manager).set_new_password(user, text, user_id(manager), chat_id(manager))
    manager.dialog_data.clear()
    manager.dialog_data["ended"] = ended
    await manager.switch_to(ChangePassword.done)


async def on_to_menu(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK)


async def on_cancel(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.done()
