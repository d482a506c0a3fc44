"""What the buttons of «Мои записи» do: open, move, cancel, the .ics, a file, the waitlist.

Each goes through the service with the visit's id, so a forged button with someone
else's id shows a refusal, never their visit.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.booking.book.states import BookVisit
from dialogs.booking.common import booking, calendar_file, file_input, to_attach
from dialogs.booking.contract import BookStart, VisitsStart
from dialogs.booking.visits.getters import visit_id_of
from dialogs.booking.visits.states import MyVisits
from dialogs.chat.ask.states import AskDoctor
from dialogs.core.card import card_data, principal
from dialogs.core.common import clear_error, guarded


async def on_start(start_data: Any, manager: DialogManager) -> None:
    """Started with a visit (a push): its window, or its «Отменить запись?»."""
    start = VisitsStart.from_data(start_data)
    if start.visit_id is None:
        return
    manager.dialog_data["visit_id"] = start.visit_id
    if manager.current_context().state == MyVisits.main:
        await manager.switch_to(MyVisits.cancel if start.cancel else MyVisits.visit)


async def on_open(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    manager.dialog_data["visit_id"] = int(item_id)
    await manager.switch_to(MyVisits.visit)


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    manager.dialog_data.pop("visit_id", None)
    await manager.switch_to(MyVisits.main)


async def on_move(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Перенести»: the booking's calendar for this visit, if it can still be changed."""
    visit_id = visit_id_of(manager)
    if visit_id is None:
        return
    user = await principal(manager)

    async def check() -> None:
        await booking(manager).run(lambda s: s.check_change(user, visit_id))

    if await guarded(manager, check):
        await manager.start(
            BookVisit.calendar,
            data=card_data(manager, BookStart(move_visit_id=visit_id).to_data()),
        )


async def on_cancel(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    await manager.switch_to(MyVisits.cancel)


async def on_cancel_confirmed(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    visit_id = visit_id_of(manager)
    if visit_id is None:
        return
    user = await principal(manager)

    async def cancel() -> None:
        view = await booking(manager).run(lambda s: s.cancel(user, visit_id))
        manager.dialog_data["cancelled_when"] = view.when
        manager.dialog_data["cancelled_whom"] = f"{view.specialty_name} {view.doctor_short}"
        manager.dialog_data["rebook"] = BookStart(
            specialty=view.specialty_code, doctor_id=view.doctor_id
        ).to_data()

    if await guarded(manager, cancel):
        await manager.switch_to(MyVisits.cancelled)


async def on_cancel_declined(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await manager.switch_to(MyVisits.visit)


async def on_rebook(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Записаться снова»: the booking at the cancelled visit's specialty and doctor."""
    data = BookStart.from_data(manager.dialog_data.get("rebook"))
    await manager.start(BookVisit.calendar, data=card_data(manager, data.to_data()))


on_calendar_file = calendar_file(visit_id_of)


on_attach = to_attach(MyVisits.attach)


on_file = file_input(visit_id_of, MyVisits.visit)


async def on_past(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    await manager.switch_to(MyVisits.past)


async def on_waitlist(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    await manager.switch_to(MyVisits.waitlist)


async def on_leave_waitlist(
    _c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    if not item_id.isdigit():
        return
    user = await principal(manager)
    entry_id = int(item_id)

    async def leave() -> None:
        await booking(manager).run(lambda s: s.leave_waitlist(user, entry_id))

    if await guarded(manager, leave):
        manager.dialog_data["notice"] = "Заявка удалена из листа ожидания."


async def on_ask(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Спросить врача» with this visit linked to the question (dialogs.chat)."""
    visit_id = visit_id_of(manager)
    if visit_id is not None:
        await manager.start(AskDoctor.doctor, data={"origin": "visit", "origin_id": visit_id})
