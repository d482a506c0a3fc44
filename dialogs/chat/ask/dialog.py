"""«Спросить врача»: from the menu, a lab result, a visit or a shared card (full access)."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Row
from aiogram_dialog.widgets.text import Const, Format

from dialogs.chat.ask import handlers
from dialogs.chat.ask.getters import doctor_getter, question_getter
from dialogs.chat.ask.states import AskDoctor
from dialogs.chat.common import ATTACH_HINT
from dialogs.core.card import card_header, home_button
from dialogs.core.common import buttons_only
from dialogs.core.widgets import back_button, cancel_button, choice_list, error_line


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            card_header,
            Const("Спросить врача\n"),
            Format("К вопросу: {origin_label}\n", when="origin_label"),
            Const("Выберите врача, которому хотите задать вопрос.", when="doctors"),
            error_line,
            choice_list("doctor", handlers.on_doctor, items="doctors"),
            cancel_button(),
            buttons_only(),
            state=AskDoctor.doctor,
            getter=doctor_getter,
        ),
        Window(
            card_header,
            Format("Вопрос врачу: {doctor}"),
            Format("К вопросу: {origin_label}", when="origin_label"),
            Const(
                "\nНапишите вопрос одним сообщением: что беспокоит, с каких пор, что уже "
                "принимали. До 2000 символов."
            ),
            error_line,
            MessageInput(handlers.on_question),
            Row(back_button(state=AskDoctor.doctor), cancel_button()),
            state=AskDoctor.question,
            getter=question_getter,
        ),
        Window(
            card_header,
            Format("Вопрос врачу: {doctor}\n\n«{question}»\n"),
            Const("Приложить файл к вопросу? " + ATTACH_HINT),
            error_line,
            MessageInput(handlers.on_file),
            Button(Const("Отправить без файла"), id="send", on_click=handlers.on_without_file),
            Row(back_button(text="Изменить вопрос", state=AskDoctor.question), cancel_button()),
            state=AskDoctor.attach,
            getter=question_getter,
        ),
        Window(
            card_header,
            Format("{sent}"),
            error_line,
            Button(Const("Мои вопросы"), id="mine", on_click=handlers.on_my_questions),
            home_button(),
            buttons_only(),
            state=AskDoctor.sent,
            getter=question_getter,
        ),
    )
