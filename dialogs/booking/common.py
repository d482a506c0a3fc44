"""What the booking dialogs share: the service, a visit as text, its file and its .ics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.fsm.state import State
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode

from dialogs.core.card import principal
from dialogs.core.common import chat_id, clear_error, ctx, guarded, set_error, work
from dialogs.core.uploads import attachment, download
from services.booking.texts import MONTHS_GENITIVE, MSK, WEEKDAYS_SHORT
from services.booking.visits import BookingService, VisitUploads, VisitView
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases

FILE_RULES = (
    "Подойдут фото или скан в формате JPG, PNG или PDF размером до 5 МБ. Снимок — не меньше "
    "600 точек по короткой стороне, PDF — до 20 страниц."
)
NOT_A_FILE = (
    "Здесь нужен файл: пришлите документ или фотографию (JPG, PNG или PDF до 5 МБ). "
    "Чтобы не прикреплять файл, нажмите «Назад»."
)
STATUS_TEXT = {
    "cancelled": "запись отменена",
    "moved": "запись перенесена",
}


def booking(manager: DialogManager) -> UseCases[BookingService]:
    """Booking's use cases, each in a unit of work of its own."""
    return UseCases(work(manager), ctx(manager), BookingService)


def short_when(view: VisitView) -> str:
    """«30 ноября (пн) 10:00» for a button: short enough for one line."""
    local = view.starts_at.astimezone(MSK)
    month = MONTHS_GENITIVE[local.month - 1]
    return f"{local.day} {month} ({WEEKDAYS_SHORT[local.weekday()]}) {local:%H:%M}"


def visit_button(view: VisitView) -> str:
    return f"{short_when(view)} · {view.specialty_name} {view.doctor_short}"[:60]


def visit_text(view: VisitView, *, file: bool = True) -> str:
    """The visit as the confirmation, «Мои записи» and the offer show it."""
    where = ", ".join(p for p in (view.organisation_name, view.address) if p)
    lines = [
        f"Врач: {view.doctor_name}",
        f"Специальность: {view.specialty_name}",
        f"Дата и время: {view.when}",
        f"Адрес: {where}",
        f"Кабинет: {view.cabinet}",
        f"С собой: {view.what_to_bring}",
    ]
    if file and view.file_name:
        lines.append(f"Прикреплённый файл: {view.file_name}")
    status = STATUS_TEXT.get(view.status)
    if status:
        reason = f" ({view.cancel_reason})" if view.cancel_reason else ""
        lines.append(f"Статус: {status}{reason}")
    return "\n".join(lines)


def calendar_file(
    visit_id_of: Callable[[DialogManager], int | None],
) -> Callable[[CallbackQuery, Any, DialogManager], Awaitable[None]]:
    """«Добавить в календарь»: the visit's .ics below the window, then the window again."""

    async def handler(callback: CallbackQuery, _b: Any, manager: DialogManager) -> None:
        visit_id = visit_id_of(manager)
        if visit_id is None:
            return
        user = await principal(manager)

        async def send() -> None:
            name, data = await booking(manager).run(lambda s: s.calendar_file(user, visit_id))
            assert callback.bot is not None
            await callback.bot.send_document(
                chat_id(manager),
                BufferedInputFile(data, filename=name),
                caption="Откройте файл, чтобы добавить приём в календарь телефона.",
                protect_content=True,
            )

        if await guarded(manager, send):
            # The file is below the window now: show the window again under it.
            manager.show_mode = ShowMode.SEND

    return handler


def to_attach(state: State) -> Callable[[CallbackQuery, Any, DialogManager], Awaitable[None]]:
    """«Прикрепить файл»: the window that asks for the file."""

    async def handler(_c: CallbackQuery, _b: Any, manager: DialogManager) -> None:
        clear_error(manager)
        manager.dialog_data.pop("notice", None)
        await manager.switch_to(state)

    return handler


def file_input(
    visit_id_of: Callable[[DialogManager], int | None], done: State
) -> Callable[[Message, Any, DialogManager], Any]:
    """«Прикрепить файл»: the file checked as the application's documents are, then `done`.

    A refusal says why and asks for the file again in the same window.
    """

    async def handler(message: Message, _widget: Any, manager: DialogManager) -> None:
        clear_error(manager)
        user = await principal(manager)
        visit_id = visit_id_of(manager)
        if visit_id is None:
            await manager.switch_to(done)
            return
        item, file_name = attachment(message)
        uploads = VisitUploads(work(manager), ctx(manager))
        try:
            uploads.check_declared_size(item.file_size)
            content = await download(message, item)
            view = await uploads.attach(user, visit_id, content, file_name)
        except DomainError as exc:
            if isinstance(exc, SessionRequired):
                raise
            set_error(manager, exc.message)
            return
        manager.dialog_data["notice"] = f"Файл «{view.file_name}» прикреплён к записи."
        await manager.switch_to(done)

    return handler


async def not_a_file(_m: Message, _w: Any, manager: DialogManager) -> None:
    set_error(manager, NOT_A_FILE)
