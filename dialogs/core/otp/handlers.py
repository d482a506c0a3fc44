"""The code sub-dialog. It is started with a `CodeRequest` (see `contract`) and ends
with a `CodeResult`: confirmed once the code is accepted, not confirmed when the
person cancels. Start data of another shape closes it at once, not confirmed."""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import auth, ctx, guarded, set_error, user_id
from dialogs.core.otp.contract import CodeRequest, CodeResult
from services.identity.otp import Channel, CodeError, Purpose, ResendTooSoon

log = logging.getLogger(__name__)

TOTP_EXHAUSTED = (
    "Попытки ввода кода из приложения исчерпаны. Нажмите «Отмена» и выберите способ "
    "получения кода заново."
)
NO_EMAIL = "Для этой учётной записи код на почту недоступен."
NOT_SENT = "Код из приложения не отправляется. Откройте приложение для кодов и введите код."


def request_of(manager: DialogManager) -> CodeRequest | None:
    return CodeRequest.from_data(manager.start_data)


def channel_of(manager: DialogManager, request: CodeRequest) -> Channel:
    """The channel in use now: the requested one, or e-mail once the person switched."""
    try:
        return Channel(manager.dialog_data.get("channel", request.channel))
    except ValueError:
        return request.channel


async def _unconfirmed(manager: DialogManager) -> None:
    log.warning("code sub-dialog with start data of another shape: closed, not confirmed")
    await manager.done(CodeResult(confirmed=False).to_data())


async def _send(manager: DialogManager, request: CodeRequest, channel: Channel) -> None:
    try:
        issued = await auth(manager).run(
            lambda s: s.send_code(
                request.account_id,
                request.purpose,
                channel,
                user_id(manager),
                action_ref=request.action_ref,
            )
        )
    except ResendTooSoon as exc:
        # The code sent a moment ago still stands (e.g. the person cancelled and
        # asked again): take it, and say when a new one can be asked for.
        manager.dialog_data.update(
            channel=channel.value, challenge_id=exc.challenge_id, destination=exc.destination
        )
        raise
    manager.dialog_data.update(
        channel=channel.value, challenge_id=issued.challenge_id, destination=issued.destination
    )


async def on_start(_data: Any, manager: DialogManager) -> None:
    request = request_of(manager)
    if request is None:
        await _unconfirmed(manager)
        return
    manager.dialog_data["channel"] = request.channel.value
    if request.channel != Channel.TOTP:
        await guarded(manager, lambda: _send(manager, request, request.channel))


async def on_code(message: Message, manager: DialogManager, text: str) -> None:
    request = request_of(manager)
    if request is None:
        await _unconfirmed(manager)
        return
    service = auth(manager)
    channel = channel_of(manager, request)
    # Authenticator codes have no server-side challenge to count tries on, so the
    # tries of this confirmation are counted here, with the same limit.
    limit = ctx(manager).policy.otp_max_attempts
    if channel == Channel.TOTP and manager.dialog_data.get("totp_tries", 0) >= limit:
        # The account's own limit over all codes is the service's (services.identity.limits).
        await service.run(
            lambda s: s.note_code_refused(
                request.account_id, request.purpose, channel, "totp_exhausted", user_id(manager)
            )
        )
        set_error(manager, TOTP_EXHAUSTED)
        return
    try:
        await service.run(
            lambda s: s.check_code(
                request.account_id,
                request.purpose,
                channel,
                manager.dialog_data.get("challenge_id"),
                text,
                user_id(manager),
                action_ref=request.action_ref,
            )
        )
    except CodeError:
        if channel == Channel.TOTP:
            manager.dialog_data["totp_tries"] = manager.dialog_data.get("totp_tries", 0) + 1
        if request.purpose == Purpose.SIGN_IN:
            await service.run(lambda s: s.record_wrong_code(request.account_id, user_id(manager)))
        raise
    await manager.done(CodeResult(confirmed=True).to_data())


async def on_resend(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    request = request_of(manager)
    if request is None:
        await _unconfirmed(manager)
        return
    channel = channel_of(manager, request)
    if channel == Channel.TOTP:
        # The window shows no such button: a forged or stale press.
        set_error(manager, NOT_SENT)
        return
    await guarded(manager, lambda: _send(manager, request, channel))


async def on_use_email(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    request = request_of(manager)
    if request is None:
        await _unconfirmed(manager)
        return
    if not request.can_use_email or channel_of(manager, request) != Channel.SMS:
        set_error(manager, NO_EMAIL)
        return
    await guarded(manager, lambda: _send(manager, request, Channel.EMAIL))
