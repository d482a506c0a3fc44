"""What each input or button of the sign-in does. The password is never kept:
it is read once from its message, which is deleted at once."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, chat_id, clear_error, passwords, set_error, user_id
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.identity.recovery.contract import RecoveryStart
from dialogs.identity.recovery.states import Recovery
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from services.core.errors import DomainError
from services.identity.auth import AccountLocked, AccountRef, PhoneMismatch
from services.identity.otp import Channel, Purpose


def _remember(manager: DialogManager, ref: AccountRef) -> None:
    manager.dialog_data.update(
        account_id=ref.account_id, has_totp=ref.has_totp, has_email=ref.has_email
    )


async def on_login(message: Message, manager: DialogManager, text: str) -> None:
    ref = await auth(manager).run(lambda s: s.find_account(text, user_id(manager)))
    _remember(manager, ref)
    manager.dialog_data.pop("password_ok", None)
    manager.dialog_data.pop("phone_ok", None)
    await manager.switch_to(SignIn.locked if ref.locked else SignIn.password)


async def on_password(message: Message, manager: DialogManager, text: str) -> None:
    account_id = manager.dialog_data["account_id"]
    try:
        await passwords(manager).check_password(account_id, text, user_id(manager))
    except AccountLocked:
        await manager.switch_to(SignIn.locked)
        return
    manager.dialog_data["password_ok"] = True
    if await auth(manager).run(lambda s: s.needs_phone_confirmation(account_id, user_id(manager))):
        # A reply keyboard can't be edited into a message: send the window anew.
        await manager.switch_to(SignIn.phone, show_mode=ShowMode.DELETE_AND_SEND)
        return
    manager.dialog_data["phone_ok"] = True
    await _second_factor(manager)


async def on_contact(message: Message, _widget: Any, manager: DialogManager) -> None:
    if not manager.dialog_data.get("password_ok"):
        await manager.switch_to(SignIn.login)
        return
    contact = message.contact
    if contact is None:
        set_error(manager, "Нажмите кнопку «Поделиться номером» внизу экрана.")
        return
    clear_error(manager)
    try:
        await auth(manager).run(
            lambda s: s.confirm_phone(
                manager.dialog_data["account_id"],
                user_id(manager),
                contact.phone_number,
                contact.user_id,
            )
        )
    except PhoneMismatch as exc:
        for key in ("account_id", "password_ok", "has_totp", "has_email"):
            manager.dialog_data.pop(key, None)
        await manager.switch_to(SignIn.login, show_mode=ShowMode.DELETE_AND_SEND)
        set_error(manager, exc.message)
        return
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    manager.dialog_data["phone_ok"] = True
    await _second_factor(manager, show_mode=ShowMode.DELETE_AND_SEND)


async def on_phone_other(message: Message, _widget: Any, manager: DialogManager) -> None:
    set_error(
        manager,
        "Не вводите номер вручную: нажмите кнопку «Поделиться номером» внизу экрана, "
        "чтобы Telegram подтвердил, что номер ваш.",
    )


async def _second_factor(manager: DialogManager, show_mode: ShowMode | None = None) -> None:
    if manager.dialog_data.get("has_totp"):
        await manager.switch_to(SignIn.factor, show_mode=show_mode)
    else:
        await _start_code(manager, Channel.SMS, show_mode)


async def _start_code(manager: DialogManager, channel: Channel, show_mode: ShowMode | None) -> None:
    request = CodeRequest(
        account_id=manager.dialog_data["account_id"],
        purpose=Purpose.SIGN_IN,
        channel=channel,
        can_use_email=bool(manager.dialog_data.get("has_email", False)),
    )
    await manager.start(Otp.code, data=request.to_data(), show_mode=show_mode)


async def on_sms(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await _start_code(manager, Channel.SMS, None)


async def on_app(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await _start_code(manager, Channel.TOTP, None)


async def on_code_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    data = manager.dialog_data
    confirmed = code_confirmed(
        start_data, result, purpose=Purpose.SIGN_IN, account_id=data.get("account_id")
    )
    if not confirmed:
        await manager.switch_to(SignIn.factor if data.get("has_totp") else SignIn.login)
        return
    if not (data.get("password_ok") and data.get("phone_ok")):
        await manager.switch_to(SignIn.login)
        return
    try:
        user = await auth(manager).run(
            lambda s: s.complete_sign_in(data["account_id"], user_id(manager), chat_id(manager))
        )
    except AccountLocked:
        await manager.switch_to(SignIn.locked)
        return
    # From now on this update acts for the signed-in person.
    manager.middleware_data["current_user"] = user
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK)


async def on_recover(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    start = RecoveryStart(account_id=manager.dialog_data.get("account_id"))
    await manager.start(Recovery.start, data=start.to_data())


async def on_other_login(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    for key in ("account_id", "password_ok", "phone_ok", "has_totp", "has_email"):
        manager.dialog_data.pop(key, None)
    clear_error(manager)
    await manager.switch_to(SignIn.login)
