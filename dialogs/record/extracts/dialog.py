"""«Выписки и заключения»: the list, one document, «Запросить выписку», «История запросов»."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.card import card_header, home_button
from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import (
    back_button,
    cancel_button,
    error_line,
    nav_row,
)
from dialogs.record.extracts import handlers
from dialogs.record.extracts.getters import (
    confirm_getter,
    document_getter,
    done_getter,
    history_getter,
    kind_getter,
    main_getter,
    period_end_getter,
    period_getter,
    stay_getter,
)
from dialogs.record.extracts.states import Extracts

PREVIOUS = "‹ Назад"
NEXT = "Вперёд ›"
TO_LIST = "К выпискам"
REQUEST = "Запросить выписку"
HISTORY = "История запросов"
DATE_HINT = "Напишите дату сообщением в формате дд.мм.гггг, например 01.02.2025."


def _first(item: tuple[str, str]) -> str:
    return item[0]


def _to_list() -> Button:
    return Button(Const(TO_LIST), id="to_list", on_click=handlers.on_to_list)


def _main() -> Window:
    return Window(
        card_header,
        Const("Выписки и заключения\n"),
        Const(
            "Заключения врачей, выписные эпикризы и подписанные выписки из медкарты. "
            "Выберите документ, чтобы открыть его.",
            when="has_documents",
        ),
        Format("{empty_text}", when="empty"),
        Format("\n{page_line}", when="page_line"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="document",
                item_id_getter=_first,
                items="documents",
                on_click=handlers.on_document,
            )
        ),
        nav_row(
            Button(
                Const(PREVIOUS), id="previous", on_click=handlers.on_previous, when="has_previous"
            ),
            Button(Const(NEXT), id="next", on_click=handlers.on_next, when="has_next"),
        ),
        Button(Const(REQUEST), id="request", on_click=handlers.on_request),
        Button(Const(HISTORY), id="history", on_click=handlers.on_history),
        nav_row(
            cancel_button(id="to_record", text="В медкарту", when="has_parent"),
            home_button(),
        ),
        buttons_only(),
        state=Extracts.main,
        getter=main_getter,
    )


def _document() -> Window:
    return Window(
        card_header,
        Format("{text}"),
        error_line,
        Button(
            Const("Скачать файл"), id="download", on_click=handlers.on_download, when="has_file"
        ),
        nav_row(back_button(id="back_to_list", text=TO_LIST, state=Extracts.main), home_button()),
        buttons_only(),
        state=Extracts.document,
        getter=document_getter,
    )


def _kind() -> Window:
    return Window(
        card_header,
        Const("Запросить выписку\n"),
        Const(
            "Выберите, какой документ подготовить. Бот соберёт его из медкарты, подпишет "
            "электронной подписью медицинской организации и пришлёт файлом PDF."
        ),
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
        nav_row(back_button(id="back_to_list", text=TO_LIST, state=Extracts.main), home_button()),
        buttons_only(),
        state=Extracts.kind,
        getter=kind_getter,
    )


def _period() -> Window:
    return Window(
        card_header,
        Format("{kind_label}\n"),
        Const("За какой период? Выберите кнопкой или напишите дату начала периода."),
        Const(DATE_HINT),
        error_line,
        Button(Const("За последний год"), id="last_year", on_click=handlers.on_last_year),
        Button(Const("За всё время"), id="all_time", on_click=handlers.on_all_time),
        nav_row(back_button(id="back_to_kind", state=Extracts.kind), home_button()),
        text_input(handlers.on_period_start),
        state=Extracts.period,
        getter=period_getter,
    )


def _period_end() -> Window:
    return Window(
        card_header,
        Format("Начало периода: {start}\n"),
        Const("Теперь напишите дату окончания периода."),
        Const(DATE_HINT),
        error_line,
        nav_row(back_button(id="back_to_period", state=Extracts.period), home_button()),
        text_input(handlers.on_period_end),
        state=Extracts.period_end,
        getter=period_end_getter,
    )


def _stay() -> Window:
    return Window(
        card_header,
        Const("Выписной эпикриз\n"),
        Const("Выберите госпитализацию.", when="has_stays"),
        Const(
            "В медкарте нет госпитализаций, по которым можно подготовить эпикриз.",
            when="no_stays",
        ),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="stay",
                item_id_getter=_first,
                items="stays",
                on_click=handlers.on_stay,
            )
        ),
        nav_row(back_button(id="back_to_kind", state=Extracts.kind), home_button()),
        buttons_only(),
        state=Extracts.stay,
        getter=stay_getter,
    )


def _confirm() -> Window:
    return Window(
        card_header,
        Const("Проверьте запрос\n"),
        Format("{summary}\n"),
        Format(
            "Документ будет подписан электронной подписью медицинской организации: "
            "{organisation}. Бот пришлёт его файлом PDF.",
            when="organisation",
        ),
        Format("\nКопия будет отправлена на почту {email}.", when="email_on"),
        Const(
            "\nЧтобы получить копию по почте, укажите e-mail в профиле Госуслуг.",
            when="no_email",
        ),
        error_line,
        Button(Const("Запросить"), id="confirm", on_click=handlers.on_confirm),
        Button(
            Format("Отправить также на e-mail {email}"),
            id="email_on",
            on_click=handlers.on_email_toggle,
            when="email_off",
        ),
        Button(
            Const("Не отправлять на e-mail"),
            id="email_off",
            on_click=handlers.on_email_toggle,
            when="email_on",
        ),
        nav_row(
            Button(Const("Назад"), id="back", on_click=handlers.on_confirm_back), home_button()
        ),
        buttons_only(),
        state=Extracts.confirm,
        getter=confirm_getter,
    )


def _done() -> Window:
    return Window(
        card_header,
        Const("Выписка готова: она выше, файлом PDF с электронной подписью."),
        Format("Копия отправлена на почту {emailed_to}.", when="emailed_to"),
        Const(
            "Копию на почту отправить не удалось. Скачать выписку ещё раз можно в "
            "«Истории запросов».",
            when="email_failed",
        ),
        Const("Подпись можно проверить в программе для просмотра PDF."),
        error_line,
        Button(Const(HISTORY), id="history", on_click=handlers.on_history),
        nav_row(_to_list(), home_button()),
        buttons_only(),
        state=Extracts.done,
        getter=done_getter,
    )


def _failed() -> Window:
    return Window(
        card_header,
        Const(
            "Извините, выписку не удалось подготовить. Запрос сохранён в истории запросов. "
            "Пожалуйста, попробуйте ещё раз."
        ),
        error_line,
        Button(Const("Попробовать ещё раз"), id="retry", on_click=handlers.on_confirm),
        nav_row(_to_list(), home_button()),
        buttons_only(),
        state=Extracts.failed,
    )


def _history() -> Window:
    return Window(
        card_header,
        Const("История запросов (время московское)\n"),
        Format("{lines}", when="lines"),
        Format("{empty_text}", when="empty"),
        Format("\n{page_line}", when="page_line"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="file",
                item_id_getter=_first,
                items="files",
                on_click=handlers.on_history_download,
            )
        ),
        nav_row(
            Button(
                Const(PREVIOUS),
                id="previous",
                on_click=handlers.on_history_previous,
                when="has_previous",
            ),
            Button(Const(NEXT), id="next", on_click=handlers.on_history_next, when="has_next"),
        ),
        Button(Const(REQUEST), id="request_more", on_click=handlers.on_request),
        nav_row(_to_list(), home_button()),
        buttons_only(),
        state=Extracts.history,
        getter=history_getter,
    )


def build_dialog() -> Dialog:
    return Dialog(
        _main(),
        _document(),
        _kind(),
        _period(),
        _period_end(),
        _stay(),
        _confirm(),
        _done(),
        _failed(),
        _history(),
    )
