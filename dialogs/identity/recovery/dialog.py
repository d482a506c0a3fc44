from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import ERROR, buttons_only, text_input
from dialogs.identity.recovery import handlers
from dialogs.identity.recovery.getters import start_getter
from dialogs.identity.recovery.states import Recovery

PASSWORD_RULES = (
    "Придумайте новый пароль: не короче 8 символов, с цифрами, заглавными и строчными "
    "буквами.\n\nСообщение с паролем будет сразу удалено из чата."
)


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Восстановление доступа"),
            Format(
                "\nМы отправим код подтверждения на электронную почту учётной записи {email}. "
                "После этого вы зададите новый пароль, и блокировка будет снята.",
                when="can_send",
            ),
            ERROR,
            Button(
                Const("Отправить код"), id="send", on_click=handlers.on_send_code, when="can_send"
            ),
            Button(Const("Отмена"), id="cancel", on_click=handlers.on_cancel),
            buttons_only(),
            state=Recovery.start,
            getter=start_getter,
        ),
        Window(
            Const(
                "Восстановление доступа\n\nВведите логин от Госуслуг: номер телефона, электронную "
                "почту или СНИЛС."
            ),
            ERROR,
            text_input(handlers.on_login),
            Button(Const("Отмена"), id="cancel_login", on_click=handlers.on_cancel),
            state=Recovery.login,
        ),
        Window(
            Const(PASSWORD_RULES),
            ERROR,
            text_input(handlers.on_new_password, secret=True),
            state=Recovery.new_password,
        ),
        Window(
            Const(
                "Пароль изменён, учётная запись разблокирована. Войдите с новым паролем. "
                "Все прежние сеансы завершены."
            ),
            Button(Const("Войти"), id="to_sign_in", on_click=handlers.on_to_sign_in),
            ERROR,
            buttons_only(),
            state=Recovery.done,
        ),
        on_start=handlers.safe_start,
        on_process_result=handlers.on_code_result,
    )
