"""«Входящие выписки»: the list of what colleagues sent, one extract and its PDF."""

from operator import itemgetter

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.clinic.inbox import handlers
from dialogs.clinic.inbox.getters import item_getter, main_getter
from dialogs.clinic.inbox.states import ColleagueInboxStates
from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, nav_row, switch_button


def _main() -> Window:
    return Window(
        Const("Входящие выписки\n"),
        Format("{summary}"),
        Const("Выберите выписку, чтобы открыть её.", when="items"),
        error_line,
        Column(
            Select(
                Format("{item[1]}"),
                id="extract",
                item_id_getter=itemgetter(0),
                items="items",
                on_click=handlers.on_item,
            )
        ),
        nav_row(
            Button(
                Const("‹ Назад"), id="previous", on_click=handlers.on_previous, when="has_previous"
            ),
            Button(Const("Вперёд ›"), id="next", on_click=handlers.on_next, when="has_next"),
        ),
        Cancel(Const("В кабинет"), id="to_cabinet"),
        buttons_only(),
        state=ColleagueInboxStates.main,
        getter=main_getter,
    )


def _item() -> Window:
    return Window(
        Format("{text}"),
        error_line,
        Button(Const("Скачать PDF"), id="download", on_click=handlers.on_download, when="has_file"),
        switch_button("К списку", id="to_list", state=ColleagueInboxStates.main),
        buttons_only(),
        state=ColleagueInboxStates.item,
        getter=item_getter,
    )


def build_dialog() -> Dialog:
    return Dialog(_main(), _item())
