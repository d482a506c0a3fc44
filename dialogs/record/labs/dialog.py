from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.text import Const

from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, menu_button
from dialogs.record.labs.states import LabResults


def build_dialog() -> Dialog:
    windows = [
        Window(
            Const("Результаты анализов"),
            menu_button(),
            error_line,
            buttons_only(),
            state=LabResults.main,
        )
    ]
    return Dialog(*windows)
