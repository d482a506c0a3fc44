"""A visit's reminders: the day before (at REMINDER_DAY_BEFORE_HOUR) and shortly before.

They are outbox rows with a due time and the visit's topic (``visit:<id>``),
queued in the unit of work that books the visit; cancelling or moving it
withdraws them (``notify.withdraw``), so none comes after a cancellation.
A reminder whose moment has already passed when the visit is booked is not queued.

A reminder carries «Перенести» and «Отменить» only while the visit can still be
changed when it arrives (``VISIT_CHANGE_MIN_MINUTES`` before, with a margin for
the delivery); the one two hours before, with the default settings, says to
call the registry instead, since the buttons would only be refused.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from services.booking.texts import MSK
from services.core import notify
from services.core.context import AppContext
from storage.models import Appointment
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from services.booking.visits import VisitView


def moments(ctx: AppContext, starts_at: datetime) -> list[tuple[str, datetime]]:
    """(kind, due time) of the reminders a visit at `starts_at` gets."""
    local = starts_at.astimezone(MSK)
    day_before = datetime.combine(
        local.date() - timedelta(days=1), time(ctx.booking.reminder_day_before_hour), MSK
    )
    shortly = starts_at - timedelta(minutes=ctx.booking.reminder_before_minutes)
    return [("visit_reminder_day", day_before), ("visit_reminder_soon", shortly)]


# How long a reminder may take to reach the chat after its due time.
DELIVERY_MARGIN = timedelta(minutes=15)


def changeable_on_arrival(ctx: AppContext, due: datetime, starts_at: datetime) -> bool:
    """Whether the visit can still be moved or cancelled when the reminder arrives."""
    return starts_at - (due + DELIVERY_MARGIN) >= timedelta(minutes=ctx.booking.change_min_minutes)


def _text(kind: str, view: VisitView, *, changeable: bool) -> str:
    opening = "Напоминаем: завтра" if kind == "visit_reminder_day" else "Напоминаем: сегодня"
    text = (
        f"{opening} приём — {view.specialty_name} {view.doctor_short}, {view.when}, "
        f"кабинет {view.cabinet}, {view.organisation_name}"
        + (f", {view.address}" if view.address else "")
        + f". С собой: {view.what_to_bring}."
    )
    if not changeable:
        call = f" по телефону {view.registry_phone}" if view.registry_phone else ""
        text += f" Если вы не сможете прийти, позвоните, пожалуйста, в регистратуру{call}."
    return text


async def schedule(uow: UnitOfWork, ctx: AppContext, visit: Appointment, view: VisitView) -> int:
    """Queue the visit's reminders that are still ahead; returns how many."""
    now = ctx.gateways.clock.now()
    count = 0
    for kind, due in moments(ctx, visit.starts_at):
        if due <= now or due >= visit.starts_at:
            continue
        changeable = changeable_on_arrival(ctx, due, visit.starts_at)
        buttons = (
            [
                notify.Button("Перенести", notify.ButtonAction.VISIT_MOVE, str(visit.id)),
                notify.Button("Отменить", notify.ButtonAction.VISIT_CANCEL, str(visit.id)),
            ]
            if changeable
            else [notify.Button("Мои записи", notify.ButtonAction.VISIT, str(visit.id))]
        )
        count += await notify.to_account(
            uow,
            ctx,
            account_id=visit.patient_account_id,
            kind=kind,
            text=_text(kind, view, changeable=changeable),
            buttons=buttons,
            due_at=due,
            topic=f"visit:{visit.id}",
        )
    return count
