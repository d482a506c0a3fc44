"""The doctor's «Вопросы пациентов»: the open questions (those waiting first, the oldest
first), a thread with who asked and what it came from, «Ответить», «Открыть карту»,
«Закрыть вопрос»."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Row, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.chat.common import ATTACH_HINT
from dialogs.chat.doctor import handlers
from dialogs.chat.doctor.getters import main_getter, thread_getter
from dialogs.chat.doctor.states import PatientQuestions
from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.core.common import buttons_only
from dialogs.core.widgets import back_button, choice_list, error_line, menu_button, switch_button


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Вопросы пациентов\n"),
            Format("{summary}"),
            Format("\n{page_line}", when="page_line"),
            error_line,
            choice_list("thread", handlers.on_thread, items="threads"),
            Row(
                Button(
                    Const("‹"), id="previous", on_click=handlers.on_previous, when="has_previous"
                ),
                Button(Const("›"), id="next", on_click=handlers.on_next, when="has_next"),
            ),
            Row(Start(Const("Кабинет"), id="cabinet", state=DoctorCabinet.main), menu_button()),
            buttons_only(),
            state=PatientQuestions.main,
            getter=main_getter,
        ),
        Window(
            Format("{text}", when="text"),
            Format(
                "\n{dialog_data[result]}", when=lambda d, *_: bool(d["dialog_data"].get("result"))
            ),
            error_line,
            choice_list("file", handlers.on_download, items="files"),
            switch_button(
                "Ответить", id="answer", state=PatientQuestions.answer, when="can_answer"
            ),
            Button(Const("Открыть карту"), id="card", on_click=handlers.on_card, when="has_thread"),
            Button(
                Const("Закрыть вопрос"), id="close", on_click=handlers.on_close, when="can_answer"
            ),
            Row(
                Button(Const("К списку вопросов"), id="to_list", on_click=handlers.on_to_list),
                menu_button(),
            ),
            buttons_only(),
            state=PatientQuestions.thread,
            getter=thread_getter,
        ),
        Window(
            Const("Напишите ответ пациенту одним сообщением, до 2000 символов."),
            error_line,
            MessageInput(handlers.on_text),
            back_button(text="Отмена", state=PatientQuestions.thread),
            state=PatientQuestions.answer,
        ),
        Window(
            Const("Приложить файл к ответу? " + ATTACH_HINT),
            error_line,
            MessageInput(handlers.on_file),
            Button(Const("Отправить без файла"), id="send", on_click=handlers.on_without_file),
            back_button(text="Отмена", state=PatientQuestions.thread),
            state=PatientQuestions.attach,
        ),
    )
