"""What the buttons of «Записаться к врачу» do: choose, book or move, attach, wait for a time.

Every refusal of the service (BookingRefused) is shown in the window the person
pressed in, and they stay there with everything chosen so far. A time taken by
someone else between showing it and «Записаться» (SlotTaken) brings the fresh
list of times with «Это время только что заняли».
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.booking.book.getters import (
    chosen_day,
    doctor_id_of,
    free_times,
    moving,
    visit_id_of,
)
from dialogs.booking.book.states import BookVisit
from dialogs.booking.common import booking, calendar_file, file_input, to_attach
from dialogs.core.card import principal
from dialogs.core.common import clear_error, ctx, guarded, set_error
from services.booking.texts import day_text, msk_today
from services.booking.visits import SlotTaken, preset_range, waitlist_range
from services.core.errors import DomainError, SessionRequired

NO_TIME_ON_DAY = (
    "На {day} свободного времени нет. Выберите другой день: дни без свободного времени "
    "отмечены «✗»."
)
DAY_OUT_OF_RANGE = "На этот день записаться нельзя. Выберите день в календаре."


# -- specialty and doctor --------------------------------------------------------------


async def on_specialty(_c: CallbackQuery, _w: Any, manager: DialogManager, code: str) -> None:
    known = {item[0]: item[1] for item in manager.dialog_data.get("specialties", [])}
    if code not in known:  # a stale or forged button
        return
    user = await principal(manager)

    async def check() -> None:
        await booking(manager).run(lambda s: s.check_specialty(user, code))

    if not await guarded(manager, check):
        return
    data = manager.dialog_data
    if data.get("specialty") != code:
        data.pop("doctor_id", None)
        data.pop("doctor_short", None)
    data["specialty"], data["specialty_name"] = code, known[code]
    await manager.switch_to(BookVisit.doctor)


async def on_doctor(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    data = manager.dialog_data
    try:
        doctors = await booking(manager).run(
            lambda s: s.doctors(int(data["org_id"]), str(data["specialty"]))
        )
    except SessionRequired:
        raise
    except (KeyError, DomainError):
        return
    chosen = next((d for d in doctors if d.id == int(item_id)), None)
    if chosen is None:  # not a doctor of this specialty here
        return
    clear_error(manager)
    data["doctor_id"], data["doctor_short"] = chosen.id, chosen.short
    await _to_calendar(manager)


async def on_any_doctor(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["doctor_id"] = None
    manager.dialog_data.pop("doctor_short", None)
    await _to_calendar(manager)


async def _to_calendar(manager: DialogManager) -> None:
    manager.dialog_data.pop("day", None)
    manager.dialog_data.pop("slot_id", None)
    await manager.switch_to(BookVisit.calendar)


# -- the day and the time -----------------------------------------------------------------


async def on_day(_e: Any, _w: Any, manager: DialogManager, day: date) -> None:
    """A day pressed in the calendar: its times, or why not (no free time that day)."""
    clear_error(manager)
    data = manager.dialog_data
    if "specialty" not in data or "org_id" not in data:
        return
    today = msk_today(ctx(manager))
    if day < today:
        set_error(manager, DAY_OUT_OF_RANGE)
        return
    times = await free_times(manager, day)
    if times is None:
        return
    if not times:
        set_error(manager, NO_TIME_ON_DAY.format(day=day_text(day)))
        return
    data["day"] = day.isoformat()
    await manager.switch_to(BookVisit.times)


async def on_time(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    """A time pressed: the confirmation screen, or the refusal (and the fresh list)."""
    if not item_id.isdigit():
        return
    user = await principal(manager)
    slot_id = int(item_id)
    move_id = moving(manager)

    async def check() -> None:
        await booking(manager).run(lambda s: s.preview(user, slot_id, moving=move_id))

    if await guarded(manager, check):
        manager.dialog_data["slot_id"] = slot_id
        await manager.switch_to(BookVisit.confirm)


async def on_other_day(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await manager.switch_to(BookVisit.calendar)


# -- «Записаться» / «Перенести» ----------------------------------------------------------------


async def on_book(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    data = manager.dialog_data
    slot_id = data.get("slot_id")
    if slot_id is None:  # a stale window: choose the time again
        await manager.switch_to(BookVisit.times if chosen_day(manager) else BookVisit.calendar)
        return
    user = await principal(manager)
    move_id = moving(manager)
    try:
        if move_id is not None:
            view = await booking(manager).run(lambda s: s.move(user, move_id, int(slot_id)))
        else:
            view = await booking(manager).run(lambda s: s.book(user, int(slot_id)))
    except SlotTaken as exc:
        data.pop("slot_id", None)
        await manager.switch_to(BookVisit.times)
        set_error(manager, exc.message)
        return
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    data.pop("slot_id", None)
    data["visit_id"] = view.id
    data["moved"] = move_id is not None
    if move_id is not None:
        # The visit is moved: pressing «Перенести» again would move the new one.
        data.pop("move_visit_id", None)
        data.pop("move_from", None)
    data.pop("notice", None)
    await manager.switch_to(BookVisit.done)


on_calendar_file = calendar_file(visit_id_of)


on_attach = to_attach(BookVisit.attach)


on_file = file_input(visit_id_of, BookVisit.done)


# -- «Сообщить, если появится время раньше» ------------------------------------------------


async def on_waitlist(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    data = manager.dialog_data
    if "specialty" not in data:
        return
    if doctor_id_of(manager) is None:
        data["wl_doctor_id"] = None
        await manager.switch_to(BookVisit.waitlist_range)
    else:
        await manager.switch_to(BookVisit.waitlist_who)


async def on_wait_doctor(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["wl_doctor_id"] = doctor_id_of(manager)
    await manager.switch_to(BookVisit.waitlist_range)


async def on_wait_any(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["wl_doctor_id"] = None
    await manager.switch_to(BookVisit.waitlist_range)


async def on_waitlist_back(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    if doctor_id_of(manager) is None:
        await manager.switch_to(BookVisit.calendar)
    else:
        await manager.switch_to(BookVisit.waitlist_who)


async def _join(manager: DialogManager, first: date, last: date) -> None:
    data = manager.dialog_data
    user = await principal(manager)
    specialty = str(data["specialty"])
    value = data.get("wl_doctor_id")
    doctor = int(value) if value is not None else None
    await booking(manager).run(lambda s: s.join_waitlist(user, specialty, doctor, first, last))
    data["wl_period"] = f"с {first:%d.%m.%Y} по {last:%d.%m.%Y}"
    await manager.switch_to(BookVisit.waitlist_done)


def _preset(days: int) -> Any:
    async def handler(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
        if "specialty" not in manager.dialog_data:
            return
        first, last = preset_range(msk_today(ctx(manager)), days)

        async def join() -> None:
            await _join(manager, first, last)

        await guarded(manager, join)

    return handler


on_two_weeks = _preset(14)
on_month = _preset(30)


async def on_range(_m: Message, manager: DialogManager, text: str) -> None:
    """«ДД.ММ.ГГГГ–ДД.ММ.ГГГГ» typed: wrong ones are refused with the reason, asked again."""
    if "specialty" not in manager.dialog_data:
        return
    context = ctx(manager)
    first, last = waitlist_range(text, msk_today(context), context.booking.horizon_days)
    await _join(manager, first, last)
