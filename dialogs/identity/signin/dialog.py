from typing import Any

from aiogram.enums import ContentType
from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, LaunchMode, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, RequestContact, Row, SwitchTo
from aiogram_dialog.widgets.markup.reply_keyboard import ReplyKeyboardFactory
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, ctx, text_input
from dialogs.core.widgets import error_line
from dialogs.identity.recovery.dialog import PASSWORD_RULES
from dialogs.identity.signin import handlers
from dialogs.identity.signin.states import SignIn
from services.identity.auth import LOCKED_MESSAGE

SIGNED_OUT = "Вы вышли из учётной записи."
FACTOR_HINT = "Пожалуйста, воспользуйтесь кнопками: «Код из SMS» или «Код из приложения»."
LOCKED_HINT = "Пожалуйста, воспользуйтесь кнопками: «Восстановить доступ» или «Другой логин»."


def _signed_out(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    """Just signed out, and the start screen not yet left (it says so once)."""
    start = manager.start_data
    left = manager.dialog_data.get("left_welcome", False)
    return isinstance(start, dict) and start.get("signed_out") is True and not left


async def _staff_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    return {"days": ctx(dialog_manager).policy.staff_password_days}


async def _leave_welcome(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    manager.dialog_data["left_welcome"] = True


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const(SIGNED_OUT + "\n", when=_signed_out),
            Const(
                "Здравствуйте! Это бот электронной медицинской карты (ЭМК) портала Госуслуг.\n\n"
                "Здесь можно подать заявление на открытие медицинской карты и следить за его "
                "статусом, смотреть карту и результаты анализов, получать выписки, записываться "
                "к врачу, задавать вопросы врачу и открывать доступ к карте близким. Для начала "
                "войдите в учётную запись Госуслуг."
            ),
            SwitchTo(
                Const("Войти через Госуслуги"),
                id="to_login",
                state=SignIn.login,
                on_click=_leave_welcome,
            ),
            error_line,
            buttons_only(),
            state=SignIn.welcome,
        ),
        Window(
            Const(
                "Вход через Госуслуги\n\nВведите логин от Госуслуг: номер телефона, электронную "
                "почту или СНИЛС."
            ),
            error_line,
            text_input(handlers.on_login),
            Button(Const("Восстановить доступ"), id="recover", on_click=handlers.on_recover),
            state=SignIn.login,
        ),
        Window(
            Const(
                "Введите пароль от Госуслуг.\n\nСообщение с паролем будет сразу удалено из чата."
            ),
            error_line,
            text_input(handlers.on_password, secret=True),
            Row(
                Button(Const("Другой логин"), id="other_login", on_click=handlers.on_other_login),
                Button(Const("Забыли пароль?"), id="forgot", on_click=handlers.on_recover),
            ),
            state=SignIn.password,
        ),
        Window(
            Const(
                "Это первый вход с этого аккаунта Telegram. Подтвердите, что номер телефона "
                "учётной записи ваш: нажмите кнопку «Поделиться номером» внизу экрана."
            ),
            error_line,
            MessageInput(handlers.on_contact, content_types=[ContentType.CONTACT]),
            # Anything else (a typed number, the password again) is deleted at once.
            MessageInput(handlers.on_phone_other),
            RequestContact(Const("📱 Поделиться номером")),
            markup_factory=ReplyKeyboardFactory(resize_keyboard=True, one_time_keyboard=True),
            state=SignIn.phone,
        ),
        Window(
            Const("Пароль верный. Как вы хотите получить код подтверждения?"),
            error_line,
            Button(Const("Код из SMS"), id="sms", on_click=handlers.on_sms),
            Button(Const("Код из приложения"), id="app", on_click=handlers.on_app),
            Button(Const("Другой логин"), id="other_login2", on_click=handlers.on_other_login),
            buttons_only(delete=True, hint=FACTOR_HINT),
            state=SignIn.factor,
        ),
        Window(
            Const(LOCKED_MESSAGE),
            Button(Const("Восстановить доступ"), id="recover2", on_click=handlers.on_recover),
            Button(Const("Другой логин"), id="other_login3", on_click=handlers.on_other_login),
            error_line,
            buttons_only(delete=True, hint=LOCKED_HINT),
            state=SignIn.locked,
        ),
        Window(
            Const(
                "Введите 6-значный код из приложения для кодов, чтобы завершить его "
                "подключение. Без этого кабинет сотрудника не откроется."
            ),
            error_line,
            text_input(handlers.on_enrol_code),
            Button(Const("Другой логин"), id="other_login4", on_click=handlers.on_other_login),
            state=SignIn.enrol,
        ),
        Window(
            Format(
                "Срок действия пароля истёк: пароль сотрудника нужно менять каждые {days} дней.\n"
            ),
            Const(PASSWORD_RULES),
            error_line,
            text_input(handlers.on_expired_password, secret=True),
            Button(Const("Другой логин"), id="other_login5", on_click=handlers.on_other_login),
            state=SignIn.new_password,
            getter=_staff_getter,
        ),
        on_process_result=handlers.on_code_result,
        # Signing in is where a stack starts: starting it resets whatever was there.
        launch_mode=LaunchMode.ROOT,
    )
