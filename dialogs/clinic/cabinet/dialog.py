"""«Кабинет врача»: the doctor's organisation, «Пациенты» with search and pages, and the
step-up (the purpose, a code from the authenticator app) that opens one patient's card
in the record's own screens (dialogs.record.card, through dialogs.core.card)."""

from operator import itemgetter

from aiogram_dialog import Dialog, LaunchMode, Window
from aiogram_dialog.widgets.kbd import Button, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.clinic.cabinet import handlers
from dialogs.clinic.cabinet.getters import (
    main_getter,
    patients_getter,
    pending_getter,
    purpose_getter,
)
from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import back_button, error_line, menu_button, nav_row

PREVIOUS = "‹ Назад"
NEXT = "Вперёд ›"


def _main() -> Window:
    return Window(
        Format("Кабинет врача\n\n{name}\n{lines}"),
        Format("\n{pending}", when="pending"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="doctor",
                item_id_getter=itemgetter(0),
                items="doctors",
                on_click=handlers.on_doctor,
            )
        ),
        Button(Const("Входящие выписки"), id="inbox", on_click=handlers.on_inbox, when="doctors"),
        Column(
            Select(
                Format("{item[1]}"),
                id="questions",
                item_id_getter=itemgetter(0),
                items="questions",
                on_click=handlers.on_questions,
            )
        ),
        Column(
            Select(
                Format("{item[1]}"),
                id="admin",
                item_id_getter=itemgetter(0),
                items="admins",
                on_click=handlers.on_admin,
            )
        ),
        menu_button(),
        buttons_only(),
        state=DoctorCabinet.main,
        getter=main_getter,
    )


def _patients() -> Window:
    return Window(
        Format("⚠️ {notice}\n", when="notice"),
        Format("Пациенты — {organisation}\n", when="organisation"),
        Format("Поиск: {query}", when="query"),
        Format("{summary}"),
        Const(
            "\nЧтобы найти пациента, напишите фамилию, СНИЛС или номер полиса. "
            "Чтобы открыть карту, выберите пациента."
        ),
        error_line,
        text_input(handlers.on_search),
        Column(
            Select(
                Format("{item[1]}"),
                id="patient",
                item_id_getter=itemgetter(0),
                items="items",
                on_click=handlers.on_patient,
            )
        ),
        nav_row(
            Button(
                Const(PREVIOUS), id="previous", on_click=handlers.on_previous, when="has_previous"
            ),
            Button(Const(NEXT), id="next", on_click=handlers.on_next, when="has_next"),
        ),
        Button(Const("Сбросить поиск"), id="reset", on_click=handlers.on_reset, when="query"),
        nav_row(
            back_button(id="to_cabinet", text="Кабинет", state=DoctorCabinet.main), menu_button()
        ),
        state=DoctorCabinet.patients,
        getter=patients_getter,
    )


def _purpose() -> Window:
    return Window(
        Format("Карта пациента: {patient}\n"),
        Format(
            "Выберите цель доступа. Доступ откроется на {minutes} мин. и только к карте этого "
            "пациента; пациент увидит в журнале, кто и зачем открыл его карту."
        ),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="purpose",
                item_id_getter=itemgetter(0),
                items="purposes",
                on_click=handlers.on_purpose,
            )
        ),
        Button(
            Const("К списку пациентов"), id="to_patients", on_click=handlers.on_back_to_patients
        ),
        buttons_only(),
        state=DoctorCabinet.purpose,
        getter=purpose_getter,
    )


def _code() -> Window:
    return Window(
        Format("Карта пациента: {patient} · {purpose}\n"),
        Const(
            "Подтвердите доступ: введите 6-значный код из приложения для кодов "
            "(например, Яндекс Ключ или Google Authenticator)."
        ),
        error_line,
        text_input(handlers.on_code),
        Button(Const("Отмена"), id="cancel_code", on_click=handlers.on_back_to_patients),
        state=DoctorCabinet.code,
        getter=purpose_getter,
    )


def _pending() -> Window:
    return Window(
        Const("Сотрудники на подтверждении\n"),
        Format("{lines}"),
        Format("\n{result}", when="result"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="confirm",
                item_id_getter=itemgetter(0),
                items="rows",
                on_click=handlers.on_confirm,
            )
        ),
        nav_row(
            back_button(id="to_cabinet2", text="Кабинет", state=DoctorCabinet.main), menu_button()
        ),
        buttons_only(),
        state=DoctorCabinet.pending,
        getter=pending_getter,
    )


def build_dialog() -> Dialog:
    return Dialog(
        _main(),
        _patients(),
        _purpose(),
        _code(),
        _pending(),
        # Opened from the menu, and as the doctor's home from a card: a stack of its own.
        launch_mode=LaunchMode.ROOT,
        on_start=handlers.on_start,
    )
