from __future__ import annotations

from typing import Any

from aiogram.types import Message
from aiogram_dialog import DialogManager, StartMode

from dialogs.core.common import chat_id, current_user, passwords, user_id
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.identity.password.states import ChangePassword
from dialogs.identity.signin.states import SignIn
from services.identity.auth import AccountLocked
from services.identity.otp import Channel, Purpose


async def on_current(message: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    try:
        await passwords(manager).verify_current_password(user, text, user_id(manager))
    except AccountLocked:
        await manager.start(SignIn.locked, mode=StartMode.RESET_STACK)
        return
    manager.dialog_data["current_ok"] = True
    request = CodeRequest(
        account_id=user.account_id,
        purpose=Purpose.CHANGE_PASSWORD,
        channel=Channel.SMS,
        can_use_email=True,
    )
    await manager.start(Otp.code, data=request.to_data())


async def on_code_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    confirmed = code_confirmed(
        start_data,
        result,
        purpose=Purpose.CHANGE_PASSWORD,
        account_id=current_user(manager).account_id,
    )
    if confirmed and manager.dialog_data.get("current_ok"):
        manager.dialog_data["code_ok"] = True
        await manager.switch_to(ChangePassword.new)
    else:
        await manager.done()


async def on_new(message: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    if not (manager.dialog_data.get("current_ok") and manager.dialog_data.get("code_ok")):
        await manager.switch_to(ChangePassword.current)
        return
    ended = await passwords(manager).set_new_password(
        user, text, user_id(manager), chat_id(manager)
    )
    manager.dialog_data.clear()
    manager.dialog_data["ended"] = ended
    await manager.switch_to(ChangePassword.done)
