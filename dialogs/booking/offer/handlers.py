"""«Записаться» on the waitlist's offer: the held time is booked (or a later visit moved to it)."""

from __future__ import annotations

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.booking.common import booking, calendar_file
from dialogs.booking.offer.getters import offer_id_of, visit_id_of
from dialogs.booking.offer.states import WaitlistOffer
from dialogs.core.common import current_user, guarded


async def on_accept(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    offer_id = offer_id_of(manager)
    if offer_id is None:
        return
    user = current_user(manager)

    async def accept() -> None:
        view = await booking(manager).run(lambda s: s.accept_offer(user, offer_id))
        manager.dialog_data["visit_id"] = view.id

    if await guarded(manager, accept):
        await manager.switch_to(WaitlistOffer.done)


on_calendar_file = calendar_file(visit_id_of)
