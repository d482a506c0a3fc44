"""The waitlist: a freed time is offered to the first person waiting and held for them.

When a slot frees (a visit cancelled or moved, a new working day), the first
waiting entry it suits — by specialty, doctor and date range, oldest first,
not offered this slot before — gets an offer: the slot is held for that person
for ``ctx.booking.waitlist_hold_minutes`` (others do not see it) and a push
says «Освободилось время …» with «Записаться». ``tick`` expires offers that
were not taken and hands the slot to the next person, and ends entries whose
range is over.
"""

from __future__ import annotations

from datetime import timedelta

from services.booking.texts import doctor_short, msk_today, when_text
from services.core import audit, notify
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from storage.models import Slot, WaitlistEntry, WaitlistOffer
from storage.uow import UnitOfWork

ACTOR = "system:waitlist"

MSG_NO_OFFER = "Такого предложения нет."
MSG_OFFER_TAKEN = "Вы уже записались на это время: запись есть в разделе «Мои записи»."
MSG_OFFER_EXPIRED = (
    "Время, которое мы придерживали для вас, уже предложено следующему в очереди. "
    "Вы остаётесь в листе ожидания: мы сообщим, если освободится другое время."
)
MSG_OFFER_GONE = "Это время уже занято. Вы остаётесь в листе ожидания."


async def offer_freed(uow: UnitOfWork, ctx: AppContext, slot: Slot) -> WaitlistOffer | None:
    """Offer a slot that has just become free to the first person waiting for it."""
    now = ctx.gateways.clock.now()
    if slot.status != "open" or slot.starts_at <= now:
        return None
    repo = uow.booking.waitlist
    if await uow.booking.visits.booked_in_slot(slot.id) is not None:
        return None
    if await repo.open_offer_for_slot(slot.id) is not None:
        return None
    doctor = await uow.booking.catalog.doctor(slot.doctor_id)
    if doctor is None:
        return None
    entry = await repo.first_for_slot(slot, doctor, now)
    if entry is None:
        return None
    hold = ctx.booking.waitlist_hold_minutes
    offer = await repo.add_offer(
        WaitlistOffer(
            entry_id=entry.id,
            slot_id=slot.id,
            patient_account_id=entry.patient_account_id,
            status="open",
            offered_at=now,
            expires_at=now + timedelta(minutes=hold),
        )
    )
    specialty = await uow.booking.catalog.specialty(doctor.specialty_code)
    await notify.to_account(
        uow,
        ctx,
        account_id=entry.patient_account_id,
        kind="waitlist_offer",
        text=(
            f"Освободилось время: {specialty.name if specialty else ''} "
            f"{doctor_short(doctor)}, {when_text(slot.starts_at)}, кабинет {doctor.cabinet}. "
            f"Мы придержим его для вас {hold} минут."
        ),
        buttons=[notify.Button("Записаться", notify.ButtonAction.WAITLIST_OFFER, str(offer.id))],
        topic=f"offer:{offer.id}",
    )
    await audit.record(
        uow,
        ctx,
        actor=ACTOR,
        action="waitlist.offer",
        subject_account_id=entry.patient_account_id,
        entry_id=entry.id,
        offer_id=offer.id,
        slot_id=slot.id,
    )
    return offer


async def settle_offer_for(uow: UnitOfWork, ctx: AppContext, slot_id: int, account: int) -> None:
    """The slot was booked by `account`: its offer is taken (theirs) or gone (someone else's)."""
    offer = await uow.booking.waitlist.open_offer_for_slot(slot_id)
    if offer is None:
        return
    if offer.patient_account_id == account:
        offer.status = "taken"
        entry = await uow.booking.waitlist.entry(offer.entry_id)
        if entry is not None and entry.status == "waiting":
            entry.status = "booked"
            entry.ended_at = ctx.gateways.clock.now()
    else:
        offer.status = "gone"
    await notify.withdraw(uow, f"offer:{offer.id}")


async def close_entry(uow: UnitOfWork, ctx: AppContext, entry: WaitlistEntry, status: str) -> None:
    """End an entry; a slot still held for it goes to the next person."""
    entry.status = status
    entry.ended_at = ctx.gateways.clock.now()
    for offer in await uow.booking.waitlist.open_offers_of(entry.id):
        offer.status = "gone"
        await notify.withdraw(uow, f"offer:{offer.id}")
        await uow.flush()
        slot = await uow.booking.schedule.slot(offer.slot_id)
        if slot is not None:
            await offer_freed(uow, ctx, slot)


async def live_offer(
    uow: UnitOfWork, ctx: AppContext, offer_id: int, account: int
) -> WaitlistOffer:
    """The person's offer if it still holds its slot; otherwise the reason it does not."""
    offer = await uow.booking.waitlist.offer(offer_id)
    if offer is None or offer.patient_account_id != account:
        raise NotFoundError(MSG_NO_OFFER)
    if offer.status == "taken":
        raise DomainError(MSG_OFFER_TAKEN)
    if offer.status == "open" and offer.expires_at <= ctx.gateways.clock.now():
        await _expire(uow, ctx, offer)
    if offer.status == "expired":
        raise DomainError(MSG_OFFER_EXPIRED)
    if offer.status != "open":
        raise DomainError(MSG_OFFER_GONE)
    return offer


async def _expire(uow: UnitOfWork, ctx: AppContext, offer: WaitlistOffer) -> None:
    offer.status = "expired"
    await notify.withdraw(uow, f"offer:{offer.id}")
    await audit.record(
        uow,
        ctx,
        actor=ACTOR,
        action="waitlist.offer_expired",
        subject_account_id=offer.patient_account_id,
        offer_id=offer.id,
        slot_id=offer.slot_id,
    )
    await uow.flush()
    slot = await uow.booking.schedule.slot(offer.slot_id)
    if slot is not None:
        await offer_freed(uow, ctx, slot)


async def tick(uow: UnitOfWork, ctx: AppContext) -> int:
    """Expire offers not taken in time (handing each slot on) and end finished entries."""
    now = ctx.gateways.clock.now()
    expired = list(await uow.booking.waitlist.expired_offers(now))
    for offer in expired:
        await _expire(uow, ctx, offer)
    await uow.booking.waitlist.end_past(msk_today(ctx), now)
    return len(expired)
