from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import text_input
from dialogs.core.otp import handlers
from dialogs.core.otp.contract import CodeResult
from dialogs.core.otp.getters import code_getter
from dialogs.core.otp.states import Otp
from dialogs.core.widgets import cancel_button, error_line


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{prompt}"),
            Format("Введите 6-значный код. {lifetime}"),
            error_line,
            text_input(handlers.on_code),
            Button(
                Const("Отправить код повторно"),
                id="resend",
                on_click=handlers.on_resend,
                when="can_resend",
            ),
            Button(
                Const("Нет доступа к телефону"),
                id="use_email",
                on_click=handlers.on_use_email,
                when="can_use_email",
            ),
            cancel_button(result=CodeResult(confirmed=False).to_data()),
            state=Otp.code,
            getter=code_getter,
        ),
        on_start=handlers.on_start,
    )
