"""«Мои записи»: upcoming visits, one visit («Перенести», «Отменить», «Добавить в календарь»,
«Прикрепить файл»), past visits and the waitlist."""

from typing import Any

from aiogram.enums import ContentType
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from dialogs.booking.book.states import BookVisit
from dialogs.booking.common import not_a_file
from dialogs.booking.visits import handlers
from dialogs.booking.visits.getters import (
    attach_getter,
    cancel_getter,
    cancelled_getter,
    main_getter,
    past_getter,
    visit_getter,
    waitlist_getter,
)
from dialogs.booking.visits.states import MyVisits
from dialogs.core.card import card_header, card_start, home_button, on_card, on_own
from dialogs.core.common import buttons_only
from dialogs.core.widgets import back_button, choice_list, error_line, nav_row

TO_LIST = "К списку записей"
BOOK = "Записаться к врачу"


def _can_ask(data: dict[str, Any], widget: Any, manager: DialogManager) -> bool:
    """«Спросить врача» about the visit: on one's own card (a relative asks from
    «Карты близких»), once the visit is shown."""
    return bool(data.get("text")) and on_own(data, widget, manager)


def _to_list() -> Button:
    return Button(Const(TO_LIST), id="to_list", on_click=handlers.on_to_list)


def _list_windows() -> list[Window]:
    return [
        Window(
            card_header,
            Const("Мои записи\n", when=on_own),
            Const("Записи на приём\n", when=on_card),
            Format("{lines}"),
            Format("\n{notice}", when="notice"),
            error_line,
            choice_list("visit", handlers.on_open),
            Button(Const(BOOK), id="book", on_click=card_start(BookVisit.specialty)),
            Button(Const("Прошедшие записи"), id="past", on_click=handlers.on_past),
            Button(Const("Лист ожидания"), id="waitlist", on_click=handlers.on_waitlist),
            home_button(),
            buttons_only(),
            state=MyVisits.main,
            getter=main_getter,
        ),
        Window(
            card_header,
            Const("Прошедшие записи\n"),
            Format("{lines}"),
            error_line,
            nav_row(back_button(state=MyVisits.main), home_button()),
            buttons_only(),
            state=MyVisits.past,
            getter=past_getter,
        ),
        Window(
            card_header,
            Const("Лист ожидания\n"),
            Format("{lines}"),
            Const(
                "\nКак только освободится время, мы пришлём сообщение и придержим его для вас.",
                when="items",
            ),
            Format("\n{notice}", when="notice"),
            error_line,
            choice_list("leave", handlers.on_leave_waitlist),
            nav_row(back_button(state=MyVisits.main), home_button()),
            buttons_only(),
            state=MyVisits.waitlist,
            getter=waitlist_getter,
        ),
    ]


def _visit_windows() -> list[Window]:
    return [
        Window(
            card_header,
            Const("Запись на приём\n"),
            Format("{text}", when="text"),
            Format("\n{notice}", when="notice"),
            error_line,
            Button(Const("Перенести"), id="move", on_click=handlers.on_move, when="booked"),
            Button(Const("Отменить"), id="cancel", on_click=handlers.on_cancel, when="booked"),
            Button(
                Const("Добавить в календарь"),
                id="ics",
                on_click=handlers.on_calendar_file,
                when="booked",
            ),
            Button(
                Const("Прикрепить файл"), id="attach", on_click=handlers.on_attach, when="booked"
            ),
            Button(Const("Спросить врача"), id="ask", on_click=handlers.on_ask, when=_can_ask),
            nav_row(_to_list(), home_button()),
            buttons_only(),
            state=MyVisits.visit,
            getter=visit_getter,
        ),
        Window(
            card_header,
            Const("Отменить запись?\n", when="booked"),
            Format("{text}", when="text"),
            Const("\nВремя освободится, и на него смогут записаться другие.", when="booked"),
            error_line,
            Button(
                Const("Да, отменить"),
                id="yes",
                on_click=handlers.on_cancel_confirmed,
                when="booked",
            ),
            Button(Const("Нет"), id="no", on_click=handlers.on_cancel_declined, when="booked"),
            nav_row(_to_list(), home_button(), when=lambda d, _w, _m: not d["booked"]),
            buttons_only(),
            state=MyVisits.cancel,
            getter=cancel_getter,
        ),
        Window(
            card_header,
            Const("Запись отменена\n"),
            Format("{whom}, {when}.\n", when="when"),
            Const("Напоминаний об этом приёме больше не будет."),
            error_line,
            Button(Const("Записаться снова"), id="rebook", on_click=handlers.on_rebook),
            nav_row(_to_list(), home_button()),
            buttons_only(),
            state=MyVisits.cancelled,
            getter=cancelled_getter,
        ),
        Window(
            card_header,
            Const("Прикрепить файл к записи\n"),
            Format(
                "Пришлите направление или результаты обследований файлом или фотографией — "
                "врач увидит их на приёме. {rules}"
            ),
            error_line,
            MessageInput(handlers.on_file, content_types=[ContentType.DOCUMENT, ContentType.PHOTO]),
            MessageInput(not_a_file),
            back_button(id="to_visit", state=MyVisits.visit),
            state=MyVisits.attach,
            getter=attach_getter,
        ),
    ]


def build_dialog() -> Dialog:
    return Dialog(*_list_windows(), *_visit_windows(), on_start=handlers.on_start)
