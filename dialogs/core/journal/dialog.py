"""«Журнал действий»: one window, ten lines a page, «Назад» and «Дальше» between pages."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only
from dialogs.core.journal import handlers
from dialogs.core.journal.getters import journal_getter
from dialogs.core.journal.states import Journal
from dialogs.core.widgets import BACK, back_button, error_line, menu_button, nav_row

NEXT = "Дальше"


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Журнал действий — кто и когда работал с вашими данными (время московское):\n"),
            Format("{lines}"),
            Format("\n{page_line}", when="page_line"),
            nav_row(
                back_button(
                    id="previous", text=BACK, on_click=handlers.on_previous, when="has_previous"
                ),
                Button(Const(NEXT), id="next", on_click=handlers.on_next, when="has_next"),
            ),
            menu_button(),
            error_line,
            buttons_only(),
            state=Journal.main,
            getter=journal_getter,
        ),
    )
