from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.text import Const

from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, menu_button
from dialogs.record.card.states import RecordCard


def build_dialog() -> Dialog:
    windows = [
        Window(
            Const("Моя медкарта"),
            menu_button(),
            error_line,
            buttons_only(),
            state=RecordCard.main,
        )
    ]
    return Dialog(*windows)
