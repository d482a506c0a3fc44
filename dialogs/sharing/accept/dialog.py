"""The relative opens an invitation: who invites, their phone, the code, the consent."""

from typing import Any

from aiogram.enums import ContentType
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, RequestContact
from aiogram_dialog.widgets.markup.reply_keyboard import ReplyKeyboardFactory
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import error_line, switch_button
from dialogs.sharing.accept import handlers
from dialogs.sharing.accept.states import AcceptInvitation
from services.sharing.grants import CONSENT_TEXT


async def _getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "patient": data.get("patient", ""),
        "level": data.get("level", ""),
        "until": data.get("until", ""),
        "sensitive": bool(data.get("sensitive")),
        "phone": data.get("phone", ""),
        "sent_to": data.get("sent_to", ""),
        "closed": data.get("closed", ""),
        "line": data.get("line", ""),
        "consent": CONSENT_TEXT,
    }


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Приглашение к медицинской карте\n"),
            Format(
                "{patient} приглашает вас получить доступ к своей электронной медицинской карте."
            ),
            Format("\nУровень доступа: {level}\nСрок: {until}"),
            Const("Чувствительные результаты анализов тоже будут видны.", when="sensitive"),
            Format(
                "\nПриглашение отправлено на номер {phone}. Чтобы принять его, подтвердите, что "
                "это ваш номер."
            ),
            error_line,
            switch_button("Принять приглашение", id="accept", state=AcceptInvitation.phone),
            Button(Const("Отказаться"), id="decline", on_click=handlers.on_cards),
            buttons_only(),
            state=AcceptInvitation.intro,
            getter=_getter,
        ),
        Window(
            Const(
                "Подтвердите номер телефона: нажмите кнопку «Поделиться номером» внизу экрана. "
                "Номер должен совпадать с номером, на который пришло приглашение."
            ),
            error_line,
            MessageInput(handlers.on_contact, content_types=[ContentType.CONTACT]),
            MessageInput(handlers.on_not_contact),
            RequestContact(Const("📱 Поделиться номером")),
            markup_factory=ReplyKeyboardFactory(resize_keyboard=True, one_time_keyboard=True),
            state=AcceptInvitation.phone,
            getter=_getter,
        ),
        Window(
            Format("Мы отправили код подтверждения в SMS на номер {sent_to}. Введите его."),
            error_line,
            text_input(handlers.on_code),
            Button(Const("Отправить код ещё раз"), id="resend", on_click=handlers.on_resend),
            state=AcceptInvitation.code,
            getter=_getter,
        ),
        Window(
            Format("{consent}"),
            Const("\nЧтобы получить доступ, подтвердите согласие."),
            error_line,
            Button(Const("Согласен(на)"), id="agree", on_click=handlers.on_agree),
            Button(Const("Отказаться"), id="decline", on_click=handlers.on_cards),
            buttons_only(),
            state=AcceptInvitation.consent,
            getter=_getter,
        ),
        Window(
            Format("Доступ открыт\n\nКарта: {patient} · {line}"),
            Const(
                "\nКарта появится в разделе «Карты близких». Все ваши действия с картой видны её "
                "владельцу."
            ),
            error_line,
            Button(Const("Открыть карту"), id="open_card", on_click=handlers.on_open_card),
            Button(Const("Карты близких"), id="cards", on_click=handlers.on_cards),
            buttons_only(),
            state=AcceptInvitation.done,
            getter=_getter,
        ),
        Window(
            Format("{closed}"),
            Button(Const("Карты близких"), id="cards", on_click=handlers.on_cards),
            buttons_only(),
            state=AcceptInvitation.closed,
            getter=_getter,
        ),
        on_start=handlers.on_start,
    )
