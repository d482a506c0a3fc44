from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import cancel_button, error_line, menu_button
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
            error_line,
            text_input(handlers.on_current, secret=True),
            cancel_button(),
            state=ChangePassword.current,
            getter=guard_getter,
        ),
        Window(
            Const(PASSWORD_RULES),
            error_line,
            text_input(handlers.on_new, secret=True),
            cancel_button(id="cancel_new"),
            state=ChangePassword.new,
            getter=guard_getter,
        ),
        Window(
            Const("Пароль изменён."),
            Format("Завершено других сеансов: {ended}.", when="ended"),
            menu_button(id="to_menu", text="В главное меню"),
            error_line,
            buttons_only(),
            state=ChangePassword.done,
            getter=guard_getter,
        ),
        on_process_result=handlers.on_code_result,
    )
