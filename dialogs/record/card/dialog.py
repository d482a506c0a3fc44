"""«Моя медкарта»: the sections, a page of one, one entry, and «Добавить документ»."""

from aiogram.enums import ContentType
from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.card import card_header, doctor_actions_button, home_button
from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import back_button, error_line, nav_row, switch_button
from dialogs.record.card import handlers
from dialogs.record.card.getters import (
    add_getter,
    entry_getter,
    main_getter,
    profile_getter,
    section_getter,
)
from dialogs.record.card.states import RecordCard

PREVIOUS = "‹ Назад"
NEXT = "Вперёд ›"
TO_SECTIONS = "К разделам"


def _first(item: tuple[str, str]) -> str:
    return item[0]


def _main() -> Window:
    return Window(
        card_header,
        Format("{title}\n"),
        Const("Выберите раздел.", when="open"),
        Format("\n{empty_text}", when="empty"),
        Const(
            "Электронная медицинская карта ещё не открыта. Чтобы открыть её, подайте "
            "заявление на ЭМК в главном меню.",
            when="closed",
        ),
        error_line,
        switch_button(
            "Личные данные и полисы", id="profile", state=RecordCard.profile, when="own_open"
        ),
        Column(
            Select(
                Format("{item[1]}"),
                id="section",
                item_id_getter=_first,
                items="sections",
                on_click=handlers.on_section,
            ),
            when="open",
        ),
        Button(Const("Результаты анализов"), id="labs", on_click=handlers.on_labs, when="open"),
        Button(
            Const("Выписки и заключения"),
            id="extracts",
            on_click=handlers.on_extracts,
            when="can_extracts",
        ),
        doctor_actions_button,
        home_button(),
        buttons_only(),
        state=RecordCard.main,
        getter=main_getter,
    )


def _profile() -> Window:
    return Window(
        card_header,
        Const("Личные данные и полисы\n"),
        Format("{text}"),
        error_line,
        nav_row(
            back_button(id="to_sections", text=TO_SECTIONS, state=RecordCard.main), home_button()
        ),
        buttons_only(),
        state=RecordCard.profile,
        getter=profile_getter,
    )


def _section() -> Window:
    return Window(
        card_header,
        Format("{result}\n", when="result"),
        Format("{title}\n"),
        Format("{empty_text}", when="empty"),
        Const("Выберите запись, чтобы открыть её.", when="lines"),
        Format("\n{page_line}", when="page_line"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="entry",
                item_id_getter=_first,
                items="lines",
                on_click=handlers.on_entry,
            )
        ),
        nav_row(
            Button(
                Const(PREVIOUS), id="previous", on_click=handlers.on_previous, when="has_previous"
            ),
            Button(Const(NEXT), id="next", on_click=handlers.on_next, when="has_next"),
        ),
        Button(Const("Добавить документ"), id="add", on_click=handlers.on_add, when="is_documents"),
        nav_row(
            back_button(id="to_sections", text=TO_SECTIONS, state=RecordCard.main), home_button()
        ),
        buttons_only(),
        state=RecordCard.section,
        getter=section_getter,
    )


def _entry() -> Window:
    return Window(
        card_header,
        Format("{text}"),
        error_line,
        Button(
            Format("{file_label}"), id="download", on_click=handlers.on_download, when="has_file"
        ),
        nav_row(
            Button(Const("К списку"), id="to_list", on_click=handlers.on_to_list),
            home_button(),
        ),
        buttons_only(),
        state=RecordCard.entry,
        getter=entry_getter,
    )


def _cancel_add() -> Button:
    return Button(Const("Отмена"), id="cancel_add", on_click=handlers.on_cancel_add)


def _add_windows() -> list[Window]:
    return [
        Window(
            Const("Добавить документ\n"),
            Const(
                "Вы можете добавить в медкарту свой документ — например, результат из частной "
                "клиники или старую выписку. Он будет отмечен «добавлено вами».\n"
            ),
            Const("Выберите вид документа."),
            error_line,
            Column(
                Select(
                    Format("{item[1]}"),
                    id="kind",
                    item_id_getter=_first,
                    items="kinds",
                    on_click=handlers.on_kind,
                )
            ),
            _cancel_add(),
            buttons_only(),
            state=RecordCard.add_kind,
            getter=add_getter,
        ),
        Window(
            Const("Добавить документ\n"),
            Format("{entered}\n", when="entered"),
            Const("Напишите название документа, например «МРТ коленного сустава»."),
            error_line,
            text_input(handlers.on_title),
            nav_row(back_button(id="to_kind", state=RecordCard.add_kind), _cancel_add()),
            state=RecordCard.add_title,
            getter=add_getter,
        ),
        Window(
            Const("Добавить документ\n"),
            Format("{entered}\n", when="entered"),
            Const("Напишите дату документа в формате ДД.ММ.ГГГГ, например 05.03.2024."),
            error_line,
            text_input(handlers.on_date),
            nav_row(back_button(id="to_title", state=RecordCard.add_title), _cancel_add()),
            state=RecordCard.add_date,
            getter=add_getter,
        ),
        Window(
            Const("Добавить документ\n"),
            Format("{entered}\n", when="entered"),
            Format("Пришлите документ файлом или фотографией. {rules}"),
            error_line,
            MessageInput(handlers.on_file, content_types=[ContentType.DOCUMENT, ContentType.PHOTO]),
            MessageInput(handlers.on_not_file),
            nav_row(back_button(id="to_date", state=RecordCard.add_date), _cancel_add()),
            state=RecordCard.add_file,
            getter=add_getter,
        ),
    ]


def build_dialog() -> Dialog:
    return Dialog(_main(), _profile(), _section(), _entry(), *_add_windows())
