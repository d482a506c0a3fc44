"""A visit's reminders: the day before (at REMINDER_DAY_BEFORE_HOUR) and shortly before.

They are outbox rows with a due time and the visit's topic (``visit:<id>``),
queued in the unit of work that books the visit; cancelling or moving it
withdraws them (``notify.withdraw``), so none comes after a cancellation.
A reminder whose moment has already passed when the visit is booked is not queued.
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


def _text(kind: str, view: VisitView) -> str:
    opening = "Напоминаем: завтра" if kind == "visit_reminder_day" else "Напоминаем: сегодня"
    return (
        f"{opening} приём — {view.specialty_name} {view.doctor_short}, {view.when}, "
        f"кабинет {view.cabinet}, {view.organisation_name}"
        + (f", {view.address}" if view.address else "")
        + f". С собой: {view.what_to_bring}."
    )


async def schedule(uow: UnitOfWork, ctx: AppContext, visit: Appointment, view: VisitView) -> int:
    """Queue the visit's reminders that are still ahead; returns how many."""
    now = ctx.gateways.clock.now()
    count = 0
    for kind, due in moments(ctx, visit.starts_at):
        if due <= now or due >= visit.starts_at:
            continue
        count += await notify.to_account(
            uow,
            ctx,
            account_id=visit.patient_account_id,
            kind=kind,
            text=_text(kind, view),
            buttons=[
                notify.Button("Перенести", notify.ButtonAction.VISIT_MOVE, str(visit.id)),
                notify.Button("Отменить", notify.ButtonAction.VISIT_CANCEL, str(visit.id)),
            ],
            due_at=due,
            topic=f"visit:{visit.id}",
        )
    return count
