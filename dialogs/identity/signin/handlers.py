"""What each input or button of the sign-in does. The password is never kept:
it is read once from its message, which is deleted at once.

A login that names no account goes on to the password all the same and gets the
answer a wrong password gets. Every way out of a sub-dialog (the code, recovery)
comes back to the step it was started from (`return_to`)."""

from __future__ import annotations

import contextlib
from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import (
    auth,
    chat_id,
    clear_error,
    ctx,
    delete_quietly,
    passwords,
    set_error,
    user_id,
    work,
)
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.identity.recovery.contract import RecoveryStart
from dialogs.identity.recovery.states import Recovery
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from services.core.errors import DomainError
from services.core.work import UseCases
from services.identity.auth import AccountLocked, AccountRef, PhoneMismatch
from services.identity.otp import Channel, Purpose
from services.identity.staff import Enrolment, StaffSignIn, qr_png

ACCOUNT_KEYS = (
    "account_id",
    "login_ref",
    "password_ok",
    "phone_ok",
    "has_totp",
    "has_email",
    "code_ok",
    "staff",
    "staff_enrolled",
    "enrol_message_id",
)
TYPED_PHONE = (
    "Не вводите номер вручную: нажмите кнопку «Поделиться номером» внизу экрана, "
    "чтобы Telegram подтвердил, что номер ваш."
)
# Where a sub-dialog was started from, and which one it was.
RETURN_TO = "return_to"
SUB = "sub"


def _forget(manager: DialogManager) -> None:
    for key in ACCOUNT_KEYS:
        manager.dialog_data.pop(key, None)


def _remember(manager: DialogManager, ref: AccountRef) -> None:
    _forget(manager)
    manager.dialog_data.update(
        account_id=ref.account_id,
        login_ref=ref.login_ref,
        has_totp=ref.has_totp,
        has_email=ref.has_email,
    )


def _starting(manager: DialogManager, sub: str) -> None:
    state = manager.current_context().state
    manager.dialog_data[RETURN_TO] = state.state
    manager.dialog_data[SUB] = sub


async def on_login(message: Message, manager: DialogManager, text: str) -> None:
    ref = await auth(manager).run(lambda s: s.find_account(text, user_id(manager)))
    _remember(manager, ref)
    # Whether the account exists, or is locked, is told only after the password.
    await manager.switch_to(SignIn.password)


async def on_password(message: Message, manager: DialogManager, text: str) -> None:
    data = manager.dialog_data
    if "login_ref" not in data:
        await manager.switch_to(SignIn.login)
        return
    account_id = data.get("account_id")
    try:
        await passwords(manager).sign_in_password(
            account_id, data["login_ref"], text, user_id(manager)
        )
    except AccountLocked:
        await manager.switch_to(SignIn.locked)
        return
    assert account_id is not None  # a login that names no account never gets here
    data["password_ok"] = True
    if await auth(manager).run(lambda s: s.needs_phone_confirmation(account_id, user_id(manager))):
        # A reply keyboard can't be edited into a message: send the window anew.
        await manager.switch_to(SignIn.phone, show_mode=ShowMode.DELETE_AND_SEND)
        return
    data["phone_ok"] = True
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
        _forget(manager)
        await manager.switch_to(SignIn.login, show_mode=ShowMode.DELETE_AND_SEND)
        set_error(manager, exc.message)
        return
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    manager.dialog_data["phone_ok"] = True
    await _second_factor(manager, show_mode=ShowMode.DELETE_AND_SEND)


async def on_phone_other(message: Message, _widget: Any, manager: DialogManager) -> None:
    """Anything but the shared contact (a typed number, or the password again): gone at once."""
    await delete_quietly(message)
    manager.show_mode = ShowMode.EDIT
    set_error(manager, TYPED_PHONE)


def staff_sign_in(manager: DialogManager) -> UseCases[StaffSignIn]:
    return UseCases(work(manager), ctx(manager), StaffSignIn)


async def _second_factor(manager: DialogManager, show_mode: ShowMode | None = None) -> None:
    data = manager.dialog_data
    state = await staff_sign_in(manager).run(lambda s: s.state(data["account_id"]))
    data["staff"], data["staff_enrolled"] = state.staff, state.enrolled
    if state.staff:
        # Staff: the app's code once it is enrolled; before that the SMS code, then enrolment.
        channel = Channel.TOTP if state.enrolled else Channel.SMS
        await _start_code(manager, channel, show_mode)
    elif data.get("has_totp"):
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
    _starting(manager, "code")
    await manager.start(Otp.code, data=request.to_data(), show_mode=show_mode)


async def on_sms(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    if not _ready_for_code(manager):
        await manager.switch_to(SignIn.login)
        return
    if manager.dialog_data.get("staff_enrolled"):
        # A stale press: staff sign in with the app's code only.
        await _start_code(manager, Channel.TOTP, None)
        return
    await _start_code(manager, Channel.SMS, None)


async def on_app(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    if not _ready_for_code(manager) or not manager.dialog_data.get("has_totp"):
        await manager.switch_to(SignIn.login)
        return
    await _start_code(manager, Channel.TOTP, None)


def _ready_for_code(manager: DialogManager) -> bool:
    data = manager.dialog_data
    return bool(data.get("password_ok") and data.get("phone_ok") and data.get("account_id"))


async def _back_to_start_step(manager: DialogManager, came_from: str | None) -> None:
    """After a sub-dialog that did not confirm: the step it was started from."""
    data = manager.dialog_data
    if came_from == SignIn.factor.state and _ready_for_code(manager):
        await manager.switch_to(SignIn.factor)
        return
    if came_from == SignIn.locked.state:
        await manager.switch_to(SignIn.locked)
        return
    if came_from in (SignIn.password.state, SignIn.phone.state) and "login_ref" in data:
        # The password is asked again: nothing past it counts any more.
        data.pop("password_ok", None)
        data.pop("phone_ok", None)
        await manager.switch_to(SignIn.password)
        return
    _forget(manager)
    await manager.switch_to(SignIn.login)


async def on_code_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    data = manager.dialog_data
    came_from = data.pop(RETURN_TO, None)
    sub = data.pop(SUB, None)
    clear_error(manager)
    if sub == "recovery":
        await _back_to_start_step(manager, came_from)
        return
    confirmed = code_confirmed(
        start_data, result, purpose=Purpose.SIGN_IN, account_id=data.get("account_id")
    )
    if not confirmed or not _ready_for_code(manager):
        await _back_to_start_step(manager, came_from)
        return
    data["code_ok"] = True
    if data.get("staff") and not data.get("staff_enrolled"):
        await _begin_enrolment(manager)
        return
    await _finish(manager)


async def _finish(manager: DialogManager) -> None:
    """After the second factor (and a staff member's enrolment): the session, or the
    expired password changed first."""
    data = manager.dialog_data
    if data.get("staff"):
        state = await staff_sign_in(manager).run(lambda s: s.state(data["account_id"]))
        if state.password_expired:
            await manager.switch_to(SignIn.new_password)
            return
    try:
        user = await auth(manager).run(
            lambda s: s.complete_sign_in(data["account_id"], user_id(manager), chat_id(manager))
        )
    except AccountLocked:
        await manager.switch_to(SignIn.locked)
        return
    except DomainError as exc:
        _forget(manager)
        await manager.switch_to(SignIn.login)
        set_error(manager, exc.message)
        return
    _forget(manager)
    # From now on this update acts for the signed-in person.
    manager.middleware_data["current_user"] = user
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK)


def _enrolment_caption(enrolment: Enrolment) -> str:
    return (
        "Приложение для кодов\n\n"
        "Сотрудникам медицинской организации вход возможен только с кодом из приложения для "
        "кодов (например, Яндекс Ключ или Google Authenticator). Отсканируйте QR-код в "
        "приложении или введите ключ вручную:\n\n"
        f"{enrolment.grouped}\n\n"
        "Никому не сообщайте этот ключ. Сообщение удалится, как только приложение будет "
        "подключено."
    )


async def _begin_enrolment(manager: DialogManager) -> None:
    """The new secret: a QR code (PNG) and the key in text, once; then one code from the app."""
    data = manager.dialog_data
    try:
        enrolment = await staff_sign_in(manager).run(
            lambda s: s.begin_enrolment(data["account_id"], user_id(manager))
        )
    except DomainError as exc:
        _forget(manager)
        await manager.switch_to(SignIn.login)
        set_error(manager, exc.message)
        return
    png = await ctx(manager).cpu.run(qr_png, enrolment.uri)
    bot = manager.middleware_data["bot"]
    sent = await bot.send_photo(
        chat_id(manager),
        BufferedInputFile(png, filename="authenticator.png"),
        caption=_enrolment_caption(enrolment),
        protect_content=True,
    )
    data["enrol_message_id"] = sent.message_id
    await manager.switch_to(SignIn.enrol, show_mode=ShowMode.SEND)


async def on_enrol_code(message: Message, manager: DialogManager, text: str) -> None:
    data = manager.dialog_data
    if not (data.get("code_ok") and data.get("staff") and _ready_for_code(manager)):
        _forget(manager)
        await manager.switch_to(SignIn.login)
        return
    await staff_sign_in(manager).run(
        lambda s: s.confirm_enrolment(data["account_id"], text, user_id(manager))
    )
    data["staff_enrolled"] = True
    shown = data.pop("enrol_message_id", None)
    if isinstance(shown, int):
        with contextlib.suppress(Exception):  # already gone: nothing to hide
            await manager.middleware_data["bot"].delete_message(chat_id(manager), shown)
    await _finish(manager)


async def on_expired_password(message: Message, manager: DialogManager, text: str) -> None:
    data = manager.dialog_data
    if not (data.get("code_ok") and data.get("staff") and data.get("staff_enrolled")):
        _forget(manager)
        await manager.switch_to(SignIn.login)
        return
    if not _ready_for_code(manager):
        await manager.switch_to(SignIn.login)
        return
    try:
        await passwords(manager).replace_expired_password(
            data["account_id"], text, user_id(manager)
        )
    except AccountLocked:
        await manager.switch_to(SignIn.locked)
        return
    await _finish(manager)


async def on_recover(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    data = manager.dialog_data
    start = RecoveryStart(account_id=data.get("account_id"), login_ref=data.get("login_ref"))
    clear_error(manager)
    _starting(manager, "recovery")
    await manager.start(Recovery.start, data=start.to_data())


async def on_other_login(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    _forget(manager)
    clear_error(manager)
    await manager.switch_to(SignIn.login)
