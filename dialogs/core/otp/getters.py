from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx

PROMPTS = {
    "sms": "Мы отправили код подтверждения в SMS на номер {destination}.",
    "email": "Мы отправили код подтверждения на электронную почту {destination}.",
    "totp": "Откройте приложение для кодов (например, Яндекс Ключ или Google Authenticator).",
}


async def code_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    channel = data.get("channel", "sms")
    sent = channel == "totp" or "challenge_id" in data
    prompt = PROMPTS[channel].format(destination=data.get("destination", ""))
    start: dict[str, Any] = dialog_manager.start_data or {}  # type: ignore[assignment]
    minutes = max(1, ctx(dialog_manager).policy.otp_ttl_seconds // 60)
    return {
        "prompt": prompt if sent else "Код пока не отправлен.",
        "lifetime": f"Код действует {minutes} мин." if channel != "totp" else "",
        "can_resend": channel in ("sms", "email"),
        "can_use_email": channel == "sms" and bool(start.get("can_use_email")),
    }
