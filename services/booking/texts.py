"""How booking names doctors, days and times (Moscow time, Russian words)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.core.context import AppContext
from storage.models import Doctor

MSK = ZoneInfo("Europe/Moscow")

WEEKDAYS_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def msk_today(ctx: AppContext) -> date:
    return ctx.gateways.clock.now().astimezone(MSK).date()


def day_text(day: date) -> str:
    """«5 декабря 2026 (сб)»."""
    return (
        f"{day.day} {MONTHS_GENITIVE[day.month - 1]} {day.year} ({WEEKDAYS_SHORT[day.weekday()]})"
    )


def when_text(moment: datetime) -> str:
    """«5 декабря 2026 (сб) в 10:20» in Moscow time."""
    local = moment.astimezone(MSK)
    return f"{day_text(local.date())} в {local:%H:%M}"


def doctor_full(doctor: Doctor) -> str:
    return " ".join(p for p in (doctor.last_name, doctor.first_name, doctor.middle_name) if p)


def doctor_short(doctor: Doctor) -> str:
    """«Соколова М. А.»."""
    initials = " ".join(f"{p[0]}." for p in (doctor.first_name, doctor.middle_name) if p)
    return f"{doctor.last_name} {initials}".strip()
