"""What the waitlist's offer shows: the held time, or why it is gone (BookingService)."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.booking.common import booking, visit_text
from dialogs.booking.contract import OfferStart
from dialogs.core.common import current_user, set_error
from services.booking.texts import MSK
from services.core.errors import DomainError, SessionRequired

MSG_NO_OFFER = "Такого предложения нет."


def offer_id_of(manager: DialogManager) -> int | None:
    return OfferStart.from_data(manager.start_data).offer_id


def visit_id_of(manager: DialogManager) -> int | None:
    value = manager.dialog_data.get("visit_id")
    return int(value) if isinstance(value, int) else None


async def offer_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"text": "", "until": "", "replaces": "", "live": False}
    offer_id = offer_id_of(dialog_manager)
    if offer_id is None:
        set_error(dialog_manager, MSG_NO_OFFER)
        return base
    user = current_user(dialog_manager)
    try:
        held = await booking(dialog_manager).run(lambda s: s.held_offer(user, offer_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return base
    return {
        **base,
        "text": visit_text(held.visit),
        "until": held.expires_at.astimezone(MSK).strftime("%H:%M"),
        "replaces": held.replaces.when if held.replaces else "",
        "live": True,
    }


async def done_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    visit_id = visit_id_of(dialog_manager)
    if visit_id is None:
        return {"text": "", "ready": False}
    user = current_user(dialog_manager)
    try:
        view = await booking(dialog_manager).run(lambda s: s.visit(user, visit_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return {"text": "", "ready": False}
    return {"text": visit_text(view), "ready": True}
