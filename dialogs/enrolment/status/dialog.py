from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Row
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import ERROR, buttons_only
from dialogs.enrolment.status import handlers
from dialogs.enrolment.status.getters import status_getter
from dialogs.enrolment.status.states import ApplicationStatus


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{text}"),
            ERROR,
            Row(
                Button(
                    Const("Исправить заявку"), id="fix", on_click=handlers.on_fix, when="can_fix"
                ),
                Button(
                    Const("Добавить документ"),
                    id="add_document",
                    on_click=handlers.on_add_document,
                    when="can_fix",
                ),
            ),
            Button(
                Format("{apply_label}"), id="apply", on_click=handlers.on_apply, when="can_apply"
            ),
            Button(Const("Обновить"), id="refresh", on_click=handlers.on_refresh, when="has"),
            Button(Const("В меню"), id="to_menu", on_click=handlers.on_to_menu),
            buttons_only(),
            state=ApplicationStatus.main,
            getter=status_getter,
        ),
    )
