from aiogram_dialog import Dialog, LaunchMode, Window
from aiogram_dialog.widgets.kbd import Button, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.booking.book.states import BookVisit
from dialogs.booking.visits.states import MyVisits
from dialogs.chat.ask.states import AskDoctor
from dialogs.chat.mine.states import MyQuestions
from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.core.common import buttons_only
from dialogs.core.journal.states import Journal
from dialogs.core.widgets import back_button, error_line, switch_button
from dialogs.enrolment.status.states import ApplicationStatus
from dialogs.menu import handlers
from dialogs.menu.getters import history_getter, main_getter
from dialogs.menu.states import MainMenu
from dialogs.record.card.states import RecordCard
from dialogs.sharing.access.states import RelativesAccess
from dialogs.sharing.cards.states import RelativeCards


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("Главное меню\n\nЗдравствуйте, {name}! Выберите, что вы хотите сделать."),
            Const("\nЭлектронная медицинская карта открыта.", when="record_open"),
            Start(Const("Моя медкарта"), id="record", state=RecordCard.main, when="record_open"),
            Start(Const("Кабинет врача"), id="doctor", state=DoctorCabinet.main, when="is_staff"),
            Start(Const("Записаться к врачу"), id="book", state=BookVisit.specialty),
            Start(Const("Мои записи"), id="visits", state=MyVisits.main),
            Button(Const("Заявление на ЭМК"), id="application", on_click=handlers.on_application),
            Start(Const("Статус заявки"), id="status", state=ApplicationStatus.main),
            Start(Const("Спросить врача"), id="ask", state=AskDoctor.doctor, when="record_open"),
            Start(
                Format("{questions}"), id="questions", state=MyQuestions.main, when="record_open"
            ),
            switch_button("История входов", id="history", state=MainMenu.history),
            Start(Const("Журнал действий"), id="journal", state=Journal.main),
            Start(Const("Доступ для близких"), id="sharing", state=RelativesAccess.main),
            Start(
                Const("Карты близких"),
                id="relative_cards",
                state=RelativeCards.main,
                when="has_cards",
            ),
            Button(Const("Сменить пароль"), id="password", on_click=handlers.on_change_password),
            Button(Const("Выйти"), id="logout", on_click=handlers.on_logout),
            error_line,
            buttons_only(),
            state=MainMenu.main,
            getter=main_getter,
        ),
        Window(
            Const("История входов — последние 10 попыток (время московское):\n"),
            Format("{history}"),
            back_button(state=MainMenu.main),
            error_line,
            buttons_only(),
            state=MainMenu.history,
            getter=history_getter,
        ),
        # The menu is the bottom of every stack: starting it resets whatever was there.
        launch_mode=LaunchMode.ROOT,
    )
