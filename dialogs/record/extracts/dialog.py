from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.text import Const

from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, menu_button
from dialogs.record.extracts.states import Extracts


def build_dialog() -> Dialog:
    windows = [
        Window(
            Const("Выписки и заключения"),
            menu_button(),
            error_line,
            buttons_only(),
            state=Extracts.main,
        )
    ]
    return Dialog(*windows)
