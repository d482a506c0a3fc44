"""«Мои вопросы»: the patient's threads with their state and unread answers, one thread,
writing again until the doctor closes it."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Row
from aiogram_dialog.widgets.text import Const, Format

from dialogs.chat.common import ATTACH_HINT
from dialogs.chat.mine import handlers
from dialogs.chat.mine.getters import main_getter, thread_getter
from dialogs.chat.mine.states import MyQuestions
from dialogs.core.card import card_header, home_button
from dialogs.core.common import buttons_only
from dialogs.core.widgets import back_button, choice_list, error_line, switch_button


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            card_header,
            Const("Мои вопросы врачам\n"),
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
            Button(Const("Задать вопрос"), id="ask", on_click=handlers.on_ask),
            home_button(),
            buttons_only(),
            state=MyQuestions.main,
            getter=main_getter,
        ),
        Window(
            card_header,
            Format("{text}", when="text"),
            Const(
                "\nВрач закрыл вопрос. Чтобы спросить снова, задайте новый вопрос.", when="closed"
            ),
            error_line,
            choice_list("file", handlers.on_download, items="files"),
            switch_button("Написать ещё", id="write", state=MyQuestions.write, when="can_write"),
            Row(
                Button(Const("К списку вопросов"), id="to_list", on_click=handlers.on_to_list),
                home_button(),
            ),
            buttons_only(),
            state=MyQuestions.thread,
            getter=thread_getter,
        ),
        Window(
            card_header,
            Const("Напишите сообщение врачу одним сообщением, до 2000 символов."),
            error_line,
            MessageInput(handlers.on_text),
            back_button(text="Отмена", state=MyQuestions.thread),
            state=MyQuestions.write,
        ),
        Window(
            card_header,
            Const("Приложить файл к сообщению? " + ATTACH_HINT),
            error_line,
            MessageInput(handlers.on_file),
            Button(Const("Отправить без файла"), id="send", on_click=handlers.on_without_file),
            back_button(text="Отмена", state=MyQuestions.thread),
            state=MyQuestions.attach,
        ),
    )
