from aiogram_dialog import Dialog, StartMode, Window
from aiogram_dialog.widgets.kbd import Button, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import cancel_button, error_line
from dialogs.identity.recovery import handlers
from dialogs.identity.recovery.getters import code_getter
from dialogs.identity.recovery.states import Recovery
from dialogs.identity.signin.states import SignIn
from services.identity.auth import RECOVERY_SENT

PASSWORD_RULES = (
    "Придумайте новый пароль: не короче 8 символов, с цифрами, заглавными и строчными "
    "буквами.\n\nСообщение с паролем будет сразу удалено из чата."
)


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const(
                "Восстановление доступа\n\nМы отправим код подтверждения на электронную почту "
                "учётной записи. После этого вы зададите новый пароль, и блокировка будет снята."
            ),
            error_line,
            Button(Const("Отправить код"), id="send", on_click=handlers.on_send_code),
            cancel_button(),
            buttons_only(),
            state=Recovery.start,
        ),
        Window(
            Const(
                "Восстановление доступа\n\nВведите логин от Госуслуг: номер телефона, электронную "
                "почту или СНИЛС."
            ),
            error_line,
            text_input(handlers.on_login),
            cancel_button(id="cancel_login"),
            state=Recovery.login,
        ),
        Window(
            Const(RECOVERY_SENT),
            Format("Введите 6-значный код. {lifetime}"),
            error_line,
            text_input(handlers.on_code),
            Button(Const("Отправить код повторно"), id="resend", on_click=handlers.on_send_code),
            cancel_button(id="cancel_code"),
            state=Recovery.code,
            getter=code_getter,
        ),
        Window(
            Const(PASSWORD_RULES),
            error_line,
            text_input(handlers.on_new_password, secret=True),
            state=Recovery.new_password,
        ),
        Window(
            Const(
                "Пароль изменён, учётная запись разблокирована. Войдите с новым паролем. "
                "Все прежние сеансы завершены."
            ),
            Start(Const("Войти"), id="to_sign_in", state=SignIn.login, mode=StartMode.RESET_STACK),
            error_line,
            buttons_only(),
            state=Recovery.done,
        ),
        on_start=handlers.on_start,
    )
