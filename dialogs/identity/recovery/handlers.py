from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, guarded, user_id
from dialogs.core.otp.states import Otp
from dialogs.identity.recovery.states import Recovery
from dialogs.identity.signin.states import SignIn


async def on_start(start_data: Any, manager: DialogManager) -> None:
    account_id = (start_data or {}).get("account_id")
    if account_id is None:
        await manager.switch_to(Recovery.login)
        return
    await _prepare(manager, account_id)


async def _prepare(manager: DialogManager, account_id: int) -> None:
    manager.dialog_data["account_id"] = account_id
    manager.dialog_data["email"] = await auth(manager).start_recovery(account_id, user_id(manager))
    await manager.switch_to(Recovery.start)


async def on_login(message: Message, manager: DialogManager, text: str) -> None:
    ref = await auth(manager).find_account(text, user_id(manager))
    await _prepare(manager, ref.account_id)


async def on_send_code(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(
        Otp.code,
        data={
            "account_id": manager.dialog_data["account_id"],
            "purpose": "recovery",
            "channel": "email",
            "can_use_email": False,
        },
    )


async def on_code_result(_start_data: Any, result: Any, manager: DialogManager) -> None:
    if isinstance(result, dict) and result.get("confirmed"):
        manager.dialog_data["code_ok"] = True
        await manager.switch_to(Recovery.new_password)


async def on_new_password(message: Message, manager: DialogManager, text: str) -> None:
    if not manager.dialog_data.get("code_ok"):
        await manager.switch_to(Recovery.start)
        return
    await auth(manager).finish_recovery(manager.dialog_data["account_id"], text, user_id(manager))
    manager.dialog_data.pop("code_ok", None)
    await manager.switch_to(Recovery.done)


async def on_to_sign_in(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(SignIn.login, mode=StartMode.RESET_STACK)


async def on_cancel(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.done()


async def safe_start(start_data: Any, manager: DialogManager) -> None:
    """on_start that shows a domain error (no e-mail on the account) in the window."""
    if not await guarded(manager, lambda: on_start(start_data, manager)):
        await manager.switch_to(Recovery.start)
