from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Row, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only
from dialogs.core.widgets import error_line, menu_button
from dialogs.enrolment.application.contract import FormStart
from dialogs.enrolment.application.states import ApplicationForm
from dialogs.enrolment.documents.states import ApplicationDocuments
from dialogs.enrolment.status import handlers
from dialogs.enrolment.status.getters import status_getter
from dialogs.enrolment.status.states import ApplicationStatus


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{text}"),
            error_line,
            Row(
                # The review of the same application: change fields, then send it again.
                Start(
                    Const("Исправить заявку"),
                    id="fix",
                    state=ApplicationForm.field,
                    data=FormStart(review=True).to_data(),
                    when="can_fix",
                ),
                Start(
                    Const("Добавить документ"),
                    id="add_document",
                    state=ApplicationDocuments.slots,
                    when="can_fix",
                ),
            ),
            Button(
                Format("{apply_label}"), id="apply", on_click=handlers.on_apply, when="can_apply"
            ),
            Button(Const("Обновить"), id="refresh", on_click=handlers.on_refresh, when="has"),
            menu_button(),
            buttons_only(),
            state=ApplicationStatus.main,
            getter=status_getter,
        ),
    )
