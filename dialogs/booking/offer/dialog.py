"""The waitlist's offer: «Освободилось время» with «Записаться», or why it is gone."""

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.booking.offer import handlers
from dialogs.booking.offer.getters import done_getter, offer_getter
from dialogs.booking.offer.states import WaitlistOffer
from dialogs.booking.visits.states import MyVisits
from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, menu_button

MY_VISITS = "Мои записи"


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Освободилось время\n", when="live"),
            Format("{text}\n", when="text"),
            Format("Мы придерживаем это время для вас до {until}.", when="until"),
            Format("Ваша запись на {replaces} будет перенесена на это время.", when="replaces"),
            error_line,
            Button(Const("Записаться"), id="accept", on_click=handlers.on_accept, when="live"),
            Start(Const(MY_VISITS), id="my_visits", state=MyVisits.main),
            menu_button(),
            buttons_only(),
            state=WaitlistOffer.main,
            getter=offer_getter,
        ),
        Window(
            Const("✅ Вы записаны на приём\n"),
            Format("{text}", when="text"),
            error_line,
            Button(
                Const("Добавить в календарь"),
                id="ics",
                on_click=handlers.on_calendar_file,
                when="ready",
            ),
            Start(Const(MY_VISITS), id="my_visits", state=MyVisits.main),
            menu_button(),
            buttons_only(),
            state=WaitlistOffer.done,
            getter=done_getter,
        ),
    )
