from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import ERROR, buttons_only, text_input
from dialogs.identity.password import handlers
from dialogs.identity.password.getters import guard_getter
from dialogs.identity.password.states import ChangePassword
from dialogs.identity.recovery.dialog import PASSWORD_RULES


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const(
                "Смена пароля\n\nВведите текущий пароль. Сообщение с паролем будет сразу удалено."
            ),
            ERROR,
            text_input(handlers.on_current, secret=True),
            Button(Const("Отмена"), id="cancel", on_click=handlers.on_cancel),
            state=ChangePassword.current,
            getter=guard_getter,
        ),
        Window(
            Const(PASSWORD_RULES),
            ERROR,
            text_input(handlers.on_new, secret=True),
            Button(Const("Отмена"), id="cancel_new", on_click=handlers.on_cancel),
            state=ChangePassword.new,
            getter=guard_getter,
        ),
        Window(
            Const("Пароль изменён."),
            Format("Завершено других сеансов: {ended}.", when="ended"),
            Button(Const("В главное меню"), id="to_menu", on_click=handlers.on_to_menu),
            ERROR,
            buttons_only(),
            state=ChangePassword.done,
            getter=guard_getter,
        ),
        on_process_result=handlers.on_code_result,
    )
