"""What the windows of «Записаться к врачу» show, read through BookingService.

Free days and times are read anew for every window, so what the person sees is
the schedule as it is now; every rule is checked again on the confirmation
screen and on «Записаться».
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiogram_dialog import DialogManager

from dialogs.booking.calendar import NO_TIME_MARK
from dialogs.booking.common import FILE_RULES, booking, visit_text
from dialogs.booking.contract import BookStart
from dialogs.core.card import is_own, principal
from dialogs.core.common import ctx, set_error
from services.booking.texts import day_text, msk_today, when_text
from services.booking.visits import BookingService, TimeOption, VisitView
from services.core.errors import DomainError, SessionRequired

CALENDAR_ID = "days"
NO_DAYS = (
    "К сожалению, свободного времени в ближайшие {days} дней нет. Мы можем сообщить, "
    "когда оно появится."
)
NO_TIMES = "На этот день свободного времени больше нет. Выберите другой день."
# On someone else's card: the visit is the owner's, and so are its reminders.
CARD_REMINDERS = (
    "Запись появится у владельца карты в разделе «Мои записи», напоминания о приёме "
    "придут ему. Отменить или перенести запись можно в разделе «Записи на приём»."
)


def has_parent(manager: DialogManager) -> bool:
    return len(manager.current_stack().intents) > 1


def moving(manager: DialogManager) -> int | None:
    value = manager.dialog_data.get("move_visit_id")
    return int(value) if value is not None else None


def chosen_day(manager: DialogManager) -> date | None:
    value = manager.dialog_data.get("day")
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def doctor_id_of(manager: DialogManager) -> int | None:
    value = manager.dialog_data.get("doctor_id")
    return int(value) if value is not None else None


def visit_id_of(manager: DialogManager) -> int | None:
    value = manager.dialog_data.get("visit_id")
    return int(value) if value is not None else None


def whom(manager: DialogManager) -> str:
    """«терапевт Соколова М. А.» or «терапевт, любой врач»."""
    data = manager.dialog_data
    name = str(data.get("specialty_name", ""))
    if data.get("doctor_id") is None:
        return f"{name}, любой врач"
    return f"{name} {data.get('doctor_short', '')}"


async def prepare(manager: DialogManager) -> bool:
    """Read the start of the booking once: the organisation, and what the start data preselect.

    A visit being moved (or booked again after the clinic cancelled it) is read through
    the service, so a forged id shows the refusal and nothing else.
    """
    data = manager.dialog_data
    if "org_id" in data:
        return True
    if data.get("failed"):
        return False
    user = await principal(manager)
    start = BookStart.from_data(manager.start_data)

    async def load(service: BookingService) -> tuple[Any, VisitView | None]:
        begin = await service.start(user)
        view = None
        if start.move_visit_id is not None:
            view = await service.check_change(user, start.move_visit_id)
        elif start.rebook_visit_id is not None:
            view = await service.visit(user, start.rebook_visit_id)
        return begin, view

    try:
        begin, view = await booking(manager).run(load)
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        data["failed"] = True
        return False
    data["org_id"] = begin.organisation_id
    data["org_name"] = begin.organisation_name
    data["specialties"] = [
        [s.code, s.name, s.referral_required, s.has_referral] for s in begin.specialties
    ]
    if view is not None:
        data["specialty"], data["specialty_name"] = view.specialty_code, view.specialty_name
        data["doctor_id"], data["doctor_short"] = view.doctor_id, view.doctor_short
        if start.move_visit_id is not None:
            data["move_visit_id"] = start.move_visit_id
            data["move_from"] = view.when
    elif start.specialty is not None:
        names = {code: name for code, name, *_ in data["specialties"]}
        if start.specialty in names:
            data["specialty"], data["specialty_name"] = start.specialty, names[start.specialty]
            data["doctor_id"] = start.doctor_id
    return True


def _specialty_label(name: str, referral_required: bool, has_referral: bool) -> str:
    label = name[:1].upper() + name[1:]
    if referral_required:
        label += " (есть направление)" if has_referral else " (по направлению)"
    return label


async def specialty_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    ready = await prepare(dialog_manager)
    data = dialog_manager.dialog_data
    items = [
        (code, _specialty_label(name, bool(required), bool(has)))
        for code, name, required, has in data.get("specialties", [])
    ]
    return {
        "ready": ready,
        "org_name": data.get("org_name", ""),
        "items": items,
        "has_referral_only": any(required for _, _, required, _ in data.get("specialties", [])),
        "empty": ready and not items,
    }


async def doctor_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    ready = await prepare(dialog_manager)
    data = dialog_manager.dialog_data
    empty: dict[str, Any] = {
        "ready": False,
        "specialty_name": data.get("specialty_name", ""),
        "items": [],
        "can_choose_specialty": False,
        "leave_back": False,
        "moving": False,
    }
    if not ready or "specialty" not in data:
        return empty
    try:
        doctors = await booking(dialog_manager).run(
            lambda s: s.doctors(int(data["org_id"]), str(data["specialty"]))
        )
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return empty
    is_moving = moving(dialog_manager) is not None
    return {
        **empty,
        "ready": True,
        "items": [(str(d.id), f"{d.name}, каб. {d.cabinet}"[:60]) for d in doctors],
        "can_choose_specialty": not is_moving,
        "leave_back": is_moving and has_parent(dialog_manager),
        "moving": is_moving,
        "move_from": data.get("move_from", ""),
    }


def _month(day: date) -> date:
    return day.replace(day=1)


async def calendar_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    ready = await prepare(dialog_manager)
    data = dialog_manager.dialog_data
    context = ctx(dialog_manager)
    today = msk_today(context)
    horizon = context.booking.horizon_days
    last = today + timedelta(days=horizon)
    base: dict[str, Any] = {
        "ready": False,
        "whom": "",
        "moving": False,
        "move_from": data.get("move_from", ""),
        "earliest": "",
        "has_days": False,
        "no_days": "",
        "free_days": [],
        "min_date": today,
        "max_date": last,
        "mark": NO_TIME_MARK,
    }
    if not ready or "specialty" not in data:
        return base
    user = await principal(dialog_manager)
    org, specialty, doctor = (
        int(data["org_id"]),
        str(data["specialty"]),
        doctor_id_of(dialog_manager),
    )

    async def read(service: BookingService) -> tuple[list[date], TimeOption | None]:
        days = await service.free_days(
            org, specialty, doctor, today, last, for_account=user.subject_account_id
        )
        first = None
        if days:
            times = await service.free_times(
                org, specialty, doctor, days[0], for_account=user.subject_account_id
            )
            first = times[0] if times else None
        return days, first

    try:
        days, first = await booking(dialog_manager).run(read)
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return base
    calendar = dialog_manager.find(CALENDAR_ID)
    assert calendar is not None
    key = f"{specialty}:{doctor}"
    offset = calendar.get_offset()
    if data.get("calendar_key") != key or offset is None:
        data["calendar_key"] = key
        offset = _month(days[0]) if days else _month(today)
    # A stale or forged «›» cannot page out of the booking horizon.
    offset = min(max(_month(offset), _month(today)), _month(last))
    calendar.set_offset(offset)
    earliest = ""
    if first is not None:
        earliest = f"Ближайшее свободное время: {when_text(first.starts_at)}"
        if doctor is None:
            earliest += f", {first.doctor_short}"
    return {
        **base,
        "ready": True,
        "whom": whom(dialog_manager),
        "moving": moving(dialog_manager) is not None,
        "earliest": earliest,
        "has_days": bool(days),
        "no_days": "" if days else NO_DAYS.format(days=horizon),
        "free_days": [d.isoformat() for d in days],
    }


async def free_times(manager: DialogManager, day: date) -> list[TimeOption] | None:
    """The chosen doctor's (or every doctor's) free times that day; None with the reason shown."""
    data = manager.dialog_data
    user = await principal(manager)
    doctor = doctor_id_of(manager)
    try:
        return await booking(manager).run(
            lambda s: s.free_times(
                int(data["org_id"]),
                str(data["specialty"]),
                doctor,
                day,
                for_account=user.subject_account_id,
            )
        )
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return None


async def times_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    ready = await prepare(dialog_manager)
    data = dialog_manager.dialog_data
    day = chosen_day(dialog_manager)
    base: dict[str, Any] = {
        "ready": False,
        "whom": "",
        "day": "",
        "times": [],
        "any_times": [],
        "no_times": "",
        "moving": False,
    }
    if not ready or day is None or "specialty" not in data:
        return base
    times = await free_times(dialog_manager, day)
    if times is None:
        return base
    doctor = doctor_id_of(dialog_manager)
    items = [(str(t.slot_id), t.time_text) for t in times]
    any_items = [(str(t.slot_id), f"{t.time_text} · {t.doctor_short}") for t in times]
    return {
        **base,
        "ready": True,
        "whom": whom(dialog_manager),
        "day": day_text(day),
        "times": items if doctor is not None else [],
        "any_times": any_items if doctor is None else [],
        "no_times": "" if times else NO_TIMES,
        "moving": moving(dialog_manager) is not None,
    }


async def confirm_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    base: dict[str, Any] = {
        "text": "",
        "can_book": False,
        "can_move": False,
        "moving": moving(dialog_manager) is not None,
        "move_from": data.get("move_from", ""),
    }
    slot_id = data.get("slot_id")
    if not await prepare(dialog_manager) or slot_id is None:
        return base
    user = await principal(dialog_manager)
    move_id = moving(dialog_manager)
    try:
        view = await booking(dialog_manager).run(
            lambda s: s.preview(user, int(slot_id), moving=move_id)
        )
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return base
    return {
        **base,
        "text": visit_text(view),
        "can_book": move_id is None,
        "can_move": move_id is not None,
    }


async def done_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    context = ctx(dialog_manager)
    base: dict[str, Any] = {
        "text": "",
        "moved": data.get("moved", False),
        "notice": data.get("notice", ""),
        "reminders": _reminders_line(
            context.booking.reminder_day_before_hour, context.booking.reminder_before_minutes
        )
        if is_own(dialog_manager)
        else CARD_REMINDERS,
        "ready": False,
        "has_file": False,
    }
    visit_id = visit_id_of(dialog_manager)
    if visit_id is None:
        return base
    user = await principal(dialog_manager)
    try:
        view = await booking(dialog_manager).run(lambda s: s.visit(user, visit_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return base
    return {**base, "text": visit_text(view), "ready": True, "has_file": bool(view.file_name)}


def _reminders_line(hour: int, minutes: int) -> str:
    before = f"{minutes // 60} ч" if minutes % 60 == 0 else f"{minutes} мин"
    return (
        f"Мы напомним о приёме накануне в {hour}:00 и за {before} до него. "
        "Отменить или перенести запись можно в разделе «Мои записи»."
    )


async def attach_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"rules": FILE_RULES}


async def waitlist_who_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "doctor_label": f"Только к врачу {data.get('doctor_short', '')}"[:60],
        "any_label": f"К любому врачу: {data.get('specialty_name', '')}"[:60],
    }


def waitlist_whom(manager: DialogManager) -> str:
    data = manager.dialog_data
    name = str(data.get("specialty_name", ""))
    if data.get("wl_doctor_id") is None:
        return f"{name}, любой врач"
    return f"{name} {data.get('doctor_short', '')}"


async def waitlist_range_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    today = msk_today(ctx(dialog_manager))
    example_to = today + timedelta(days=14)
    return {
        "whom": waitlist_whom(dialog_manager),
        "example": f"{today:%d.%m.%Y}–{example_to:%d.%m.%Y}",
    }


async def waitlist_done_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "whom": waitlist_whom(dialog_manager),
        "period": data.get("wl_period", ""),
        "hold": ctx(dialog_manager).booking.waitlist_hold_minutes,
    }
