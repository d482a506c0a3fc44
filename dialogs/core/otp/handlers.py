"""The code sub-dialog. Start data: account_id, purpose, channel (sms, email or totp),
optional action_ref (what the code confirms) and can_use_email (offer the e-mail
fallback). It ends with {"confirmed": True} or None when the person cancels."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, ctx, guarded, set_error, user_id
from services.identity.otp import CodeError, ResendTooSoon


def _start(manager: DialogManager) -> dict[str, Any]:
    data: dict[str, Any] = manager.start_data  # type: ignore[assignment]
    return data


async def _send(manager: DialogManager, channel: str) -> None:
    start = _start(manager)
    try:
        issued = await auth(manager).send_code(
            start["account_id"],
            start["purpose"],
            channel,  # type: ignore[arg-type]
            user_id(manager),
            action_ref=start.get("action_ref", ""),
        )
    except ResendTooSoon as exc:
        # The code sent a moment ago still stands (e.g. the person cancelled and
        # asked again): take it, and say when a new one can be asked for.
        manager.dialog_data.update(
            channel=channel, challenge_id=exc.challenge_id, destination=exc.destination
        )
        raise
    manager.dialog_data.update(
        channel=channel, challenge_id=issued.challenge_id, destination=issued.destination
    )


async def on_start(_data: Any, manager: DialogManager) -> None:
    channel = _start(manager)["channel"]
    manager.dialog_data["channel"] = channel
    if channel != "totp":
        await guarded(manager, lambda: _send(manager, channel))


TOTP_EXHAUSTED = (
    "Попытки ввода кода из приложения исчерпаны. Нажмите «Отмена» и выберите способ "
    "получения кода заново."
)


async def on_code(message: Message, manager: DialogManager, text: str) -> None:
    start = _start(manager)
    service = auth(manager)
    channel = manager.dialog_data["channel"]
    # Authenticator codes have no server-side challenge to count tries on, so the
    # tries of this confirmation are counted here, with the same limit.
    limit = ctx(manager).policy.otp_max_attempts
    if channel == "totp" and manager.dialog_data.get("totp_tries", 0) >= limit:
        set_error(manager, TOTP_EXHAUSTED)
        return
    try:
        await service.check_code(
            start["account_id"],
            start["purpose"],
            channel,
            manager.dialog_data.get("challenge_id"),
            text,
            user_id(manager),
            action_ref=start.get("action_ref", ""),
        )
    except CodeError:
        if channel == "totp":
            manager.dialog_data["totp_tries"] = manager.dialog_data.get("totp_tries", 0) + 1
        if start["purpose"] == "sign_in":
            await service.record_wrong_code(start["account_id"], user_id(manager))
        raise
    await manager.done({"confirmed": True})


async def on_resend(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await guarded(manager, lambda: _send(manager, manager.dialog_data["channel"]))


async def on_use_email(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    if not _start(manager).get("can_use_email"):
        set_error(manager, "Для этой учётной записи код на почту недоступен.")
        return
    await guarded(manager, lambda: _send(manager, "email"))


async def on_cancel(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.done(None)
