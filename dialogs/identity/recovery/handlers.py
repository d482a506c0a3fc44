"""«Восстановить доступ». The answers are the same for any login: whether it names an
account (and whether that has an e-mail) is never shown, nor the address itself."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, guarded, passwords, user_id
from dialogs.identity.recovery.contract import RecoveryStart
from dialogs.identity.recovery.states import Recovery
from services.identity.auth import AccountRef


def _target(manager: DialogManager, account_id: int | None, login_ref: str) -> None:
    manager.dialog_data.update(account_id=account_id, login_ref=login_ref)
    manager.dialog_data.pop("challenge_id", None)
    manager.dialog_data.pop("code_ok", None)


async def on_start(start_data: Any, manager: DialogManager) -> None:
    start = RecoveryStart.from_data(start_data)
    if not start.known:
        await manager.switch_to(Recovery.login)
        return
    _target(manager, start.account_id, start.login_ref or "")


async def on_login(message: Message, manager: DialogManager, text: str) -> None:
    ref: AccountRef = await auth(manager).run(lambda s: s.find_account(text, user_id(manager)))
    _target(manager, ref.account_id, ref.login_ref)
    await manager.switch_to(Recovery.start)


async def _request(manager: DialogManager) -> None:
    data = manager.dialog_data
    if "login_ref" not in data:
        await manager.switch_to(Recovery.login)
        return
    challenge_id = await auth(manager).run(
        lambda s: s.request_recovery(data.get("account_id"), data["login_ref"], user_id(manager))
    )
    data["challenge_id"] = challenge_id
    await manager.switch_to(Recovery.code)


async def on_send_code(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await guarded(manager, lambda: _request(manager))


async def on_code(message: Message, manager: DialogManager, text: str) -> None:
    data = manager.dialog_data
    if "login_ref" not in data:
        await manager.switch_to(Recovery.login)
        return
    await auth(manager).run(
        lambda s: s.check_recovery_code(
            data.get("account_id"),
            data["login_ref"],
            data.get("challenge_id"),
            text,
            user_id(manager),
        )
    )
    data["code_ok"] = True
    await manager.switch_to(Recovery.new_password)


async def on_new_password(message: Message, manager: DialogManager, text: str) -> None:
    account_id = manager.dialog_data.get("account_id")
    if not manager.dialog_data.get("code_ok") or account_id is None:
        await manager.switch_to(Recovery.start)
        return
    await passwords(manager).finish_recovery(account_id, text, user_id(manager))
    manager.dialog_data.pop("code_ok", None)
    await manager.switch_to(Recovery.done)
