"""«Добавить в календарь»: a visit as an iCalendar event (RFC 5545), with icalendar."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from icalendar import Alarm, Calendar, Event

from services.booking.texts import MSK

if TYPE_CHECKING:
    from services.booking.visits import VisitView

PRODID = "-//EMK bot//Запись к врачу//RU"


def visit_event(view: VisitView) -> bytes:
    """One VEVENT in Moscow time with a reminder two hours before."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"visit-{view.id}@emk-bot")
    event.add("dtstamp", view.starts_at)
    event.add("dtstart", view.starts_at.astimezone(MSK))
    event.add("dtend", view.ends_at.astimezone(MSK))
    event.add("summary", f"Приём: {view.specialty_name} {view.doctor_short}")
    where = ", ".join(
        p for p in (view.organisation_name, view.address, f"кабинет {view.cabinet}") if p
    )
    event.add("location", where)
    event.add(
        "description",
        f"{view.specialty_name.capitalize()} {view.doctor_name}, кабинет {view.cabinet}. "
        f"С собой: {view.what_to_bring}.",
    )
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"Приём: {view.specialty_name} {view.doctor_short}")
    alarm.add("trigger", -timedelta(hours=2))
    event.add_component(alarm)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
