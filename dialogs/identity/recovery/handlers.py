from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, guarded, passwords, user_id
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.identity.recovery.contract import RecoveryStart
from dialogs.identity.recovery.states import Recovery
from services.identity.otp import Channel, Purpose


async def on_start(start_data: Any, manager: DialogManager) -> None:
    account_id = RecoveryStart.from_data(start_data).account_id
    if account_id is None:
        await manager.switch_to(Recovery.login)
        return
    await _prepare(manager, account_id)


async def _prepare(manager: DialogManager, account_id: int) -> None:
    manager.dialog_data["account_id"] = account_id
    manager.dialog_data["email"] = await auth(manager).run(
        lambda s: s.start_recovery(account_id, user_id(manager))
    )
    await manager.switch_to(Recovery.start)


async def on_login(message: Message, manager: DialogManager, text: str) -> None:
    ref = await auth(manager).run(lambda s: s.find_account(text, user_id(manager)))
    await _prepare(manager, ref.account_id)


async def on_send_code(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    request = CodeRequest(
        account_id=manager.dialog_data["account_id"],
        purpose=Purpose.RECOVERY,
        channel=Channel.EMAIL,
        can_use_email=False,
    )
    await manager.start(Otp.code, data=request.to_data())


async def on_code_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    account_id = manager.dialog_data.get("account_id")
    if account_id is not None and code_confirmed(
        start_data, result, purpose=Purpose.RECOVERY, account_id=account_id
    ):
        manager.dialog_data["code_ok"] = True
        await manager.switch_to(Recovery.new_password)


async def on_new_password(message: Message, manager: DialogManager, text: str) -> None:
    if not manager.dialog_data.get("code_ok"):
        await manager.switch_to(Recovery.start)
        return
    await passwords(manager).finish_recovery(
        manager.dialog_data["account_id"], text, user_id(manager)
    )
    manager.dialog_data.pop("code_ok", None)
    await manager.switch_to(Recovery.done)


async def safe_start(start_data: Any, manager: DialogManager) -> None:
    """on_start that shows a domain error (no e-mail on the account) in the window."""
    if not await guarded(manager, lambda: on_start(start_data, manager)):
        await manager.switch_to(Recovery.start)
