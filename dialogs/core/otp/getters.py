from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx
from dialogs.core.otp.handlers import channel_of, request_of
from services.identity.otp import Channel

PROMPTS = {
    Channel.SMS: "Мы отправили код подтверждения в SMS на номер {destination}.",
    Channel.EMAIL: "Мы отправили код подтверждения на электронную почту {destination}.",
    Channel.TOTP: "Откройте приложение для кодов (например, Яндекс Ключ или Google Authenticator).",
}


async def code_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    request = request_of(dialog_manager)
    channel = Channel.SMS if request is None else channel_of(dialog_manager, request)
    sent = channel == Channel.TOTP or "challenge_id" in data
    prompt = PROMPTS[channel].format(destination=data.get("destination", ""))
    minutes = max(1, ctx(dialog_manager).policy.otp_ttl_seconds // 60)
    return {
        "prompt": prompt if sent else "Код пока не отправлен.",
        "lifetime": f"Код действует {minutes} мин." if channel != Channel.TOTP else "",
        "can_resend": channel in (Channel.SMS, Channel.EMAIL),
        "can_use_email": channel == Channel.SMS and request is not None and request.can_use_email,
    }
