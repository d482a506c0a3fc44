"""«Записаться к врачу»: specialty → doctor → day → time → «Записаться»; also «Перенести».

When no time suits, «Сообщить, если появится время раньше» puts the person on
the waitlist for the doctor or the whole specialty over a period.
"""

from typing import Any

from aiogram.enums import ContentType
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Cancel
from aiogram_dialog.widgets.text import Const, Format, Multi

from dialogs.booking.book import handlers
from dialogs.booking.book.getters import (
    CALENDAR_ID,
    attach_getter,
    calendar_getter,
    confirm_getter,
    doctor_getter,
    done_getter,
    specialty_getter,
    times_getter,
    waitlist_done_getter,
    waitlist_range_getter,
    waitlist_who_getter,
)
from dialogs.booking.book.states import BookVisit
from dialogs.booking.calendar import BookingCalendar
from dialogs.booking.common import not_a_file
from dialogs.booking.visits.states import MyVisits
from dialogs.core.card import card_header, card_start, home_button, is_own, on_card, on_own
from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import BACK, back_button, choice_list, error_line, nav_row

ANY_DOCTOR = "Любой врач"
WAITLIST = "Сообщить, если появится время раньше"
BOOK = "Записаться"
MOVE = "Перенести"
ATTACH = "Прикрепить файл"
CALENDAR_FILE = "Добавить в календарь"
MY_VISITS = "Мои записи"
CARD_VISITS = "Записи на приём"
OTHER_DAY = "Выбрать другой день"
TWO_WEEKS = "В ближайшие 2 недели"
MONTH = "В ближайший месяц"


def _choice_windows() -> list[Window]:
    return [
        Window(
            card_header,
            Const("Записаться к врачу\n"),
            Format("{org_name}\n", when="org_name"),
            Const("Выберите специальность врача.", when="items"),
            Const(
                "Пометка «по направлению» — к этому врачу записывают по направлению терапевта.",
                when="has_referral_only",
            ),
            Const("Для самостоятельной записи сейчас нет ни одного врача.", when="empty"),
            error_line,
            choice_list("specialty", handlers.on_specialty),
            home_button(),
            buttons_only(),
            state=BookVisit.specialty,
            getter=specialty_getter,
        ),
        Window(
            card_header,
            Format("Перенос записи: сейчас вы записаны на {move_from}.\n", when="moving"),
            Format("Выберите врача — {specialty_name}.", when="ready"),
            Const("«Любой врач» — ближайшее свободное время у любого из врачей.", when="ready"),
            error_line,
            choice_list("doctor", handlers.on_doctor),
            Button(Const(ANY_DOCTOR), id="any", on_click=handlers.on_any_doctor, when="ready"),
            nav_row(
                back_button(state=BookVisit.specialty, when="can_choose_specialty"),
                Cancel(Const(BACK), id="leave", when="leave_back"),
                home_button(),
            ),
            buttons_only(),
            state=BookVisit.doctor,
            getter=doctor_getter,
        ),
        Window(
            card_header,
            Format("Перенос записи: сейчас вы записаны на {move_from}.\n", when="moving"),
            Format("Запись к врачу: {whom}\n", when="ready"),
            Format("{earliest}\n", when="earliest"),
            Format("Выберите день. Дни без свободного времени отмечены «{mark}».", when="has_days"),
            Format("{no_days}", when="no_days"),
            error_line,
            BookingCalendar(id=CALENDAR_ID, on_click=handlers.on_day, when="has_days"),
            Button(Const(WAITLIST), id="waitlist", on_click=handlers.on_waitlist, when="ready"),
            nav_row(
                back_button(id="to_doctor", state=BookVisit.doctor, when="ready"),
                home_button(),
            ),
            buttons_only(),
            state=BookVisit.calendar,
            getter=calendar_getter,
        ),
        Window(
            card_header,
            Format("Свободное время на {day}", when="ready"),
            Format("Врач: {whom}\n", when="ready"),
            Const("Выберите время приёма.", when="times"),
            Const("Выберите время приёма и врача.", when="any_times"),
            Format("{no_times}", when="no_times"),
            error_line,
            choice_list("time", handlers.on_time, items="times", width=4),
            choice_list("time_any", handlers.on_time, items="any_times", width=2),
            Button(Const(OTHER_DAY), id="other_day", on_click=handlers.on_other_day),
            Button(Const(WAITLIST), id="waitlist", on_click=handlers.on_waitlist, when="ready"),
            home_button(),
            buttons_only(),
            state=BookVisit.times,
            getter=times_getter,
        ),
    ]


def _visits_button() -> Button:
    """«Мои записи»; on someone else's card, the card owner's «Записи на приём»."""
    return Button(
        Multi(Const(MY_VISITS, when=on_own), Const(CARD_VISITS, when=on_card)),
        id="my_visits",
        on_click=card_start(MyVisits.main),
    )


def _booked_own(data: dict[str, Any], _w: Any, manager: DialogManager) -> bool:
    return not data["moved"] and is_own(manager)


def _booked_on_card(data: dict[str, Any], _w: Any, manager: DialogManager) -> bool:
    return not data["moved"] and not is_own(manager)


def _booking_windows() -> list[Window]:
    return [
        Window(
            card_header,
            Const("Проверьте запись\n", when="can_book"),
            Format("Перенести запись?\n\nСейчас: {move_from}\n\nНовая запись:", when="can_move"),
            Format("{text}", when="text"),
            error_line,
            Button(Const(BOOK), id="book", on_click=handlers.on_book, when="can_book"),
            Button(Const(MOVE), id="move", on_click=handlers.on_book, when="can_move"),
            back_button(id="to_times", state=BookVisit.times),
            buttons_only(),
            state=BookVisit.confirm,
            getter=confirm_getter,
        ),
        Window(
            card_header,
            Const("✅ Запись перенесена\n", when="moved"),
            Const("✅ Вы записаны на приём\n", when=_booked_own),
            Const("✅ Запись на приём оформлена\n", when=_booked_on_card),
            Format("{text}\n", when="text"),
            Format("{reminders}", when="ready"),
            Format("\n{notice}", when="notice"),
            error_line,
            Button(Const(ATTACH), id="attach", on_click=handlers.on_attach, when="ready"),
            Button(
                Const(CALENDAR_FILE), id="ics", on_click=handlers.on_calendar_file, when="ready"
            ),
            _visits_button(),
            home_button(),
            buttons_only(),
            state=BookVisit.done,
            getter=done_getter,
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
            back_button(id="to_done", state=BookVisit.done),
            state=BookVisit.attach,
            getter=attach_getter,
        ),
    ]


def _waitlist_windows() -> list[Window]:
    return [
        Window(
            card_header,
            Const("Сообщить, если появится время раньше\n"),
            Const(
                "Сообщать о свободном времени только этого врача или любого врача той же "
                "специальности?"
            ),
            error_line,
            Button(Format("{doctor_label}"), id="wait_doctor", on_click=handlers.on_wait_doctor),
            Button(Format("{any_label}"), id="wait_any", on_click=handlers.on_wait_any),
            nav_row(back_button(id="to_calendar", state=BookVisit.calendar), home_button()),
            buttons_only(),
            state=BookVisit.waitlist_who,
            getter=waitlist_who_getter,
        ),
        Window(
            card_header,
            Const("Сообщить, если появится время раньше\n"),
            Format("Врач: {whom}\n"),
            Format(
                "За какой период сообщать о свободном времени? Выберите кнопкой или напишите "
                "даты сообщением в формате ДД.ММ.ГГГГ–ДД.ММ.ГГГГ, например {example}."
            ),
            error_line,
            Button(Const(TWO_WEEKS), id="two_weeks", on_click=handlers.on_two_weeks),
            Button(Const(MONTH), id="month", on_click=handlers.on_month),
            nav_row(back_button(on_click=handlers.on_waitlist_back), home_button()),
            text_input(handlers.on_range),
            state=BookVisit.waitlist_range,
            getter=waitlist_range_getter,
        ),
        Window(
            card_header,
            Const("✅ Вы в листе ожидания\n"),
            Format("Врач: {whom}\nПериод: {period}\n"),
            Format(
                "Как только освободится время, мы пришлём сообщение и придержим это время "
                "для вас {hold} минут. Заявки можно посмотреть и удалить в разделе "
                "«Мои записи» → «Лист ожидания»."
            ),
            _visits_button(),
            home_button(),
            buttons_only(),
            state=BookVisit.waitlist_done,
            getter=waitlist_done_getter,
        ),
    ]


def build_dialog() -> Dialog:
    return Dialog(*_choice_windows(), *_booking_windows(), *_waitlist_windows())
