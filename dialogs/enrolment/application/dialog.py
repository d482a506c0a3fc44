from aiogram_dialog import Dialog, StartMode, Window
from aiogram_dialog.widgets.kbd import Button, Column, Group, Row, Select, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import back_button, error_line, menu_button, nav_row
from dialogs.enrolment.application import handlers
from dialogs.enrolment.application.getters import (
    accepted_getter,
    consent_getter,
    field_getter,
    review_getter,
)
from dialogs.enrolment.application.states import ApplicationForm
from dialogs.enrolment.documents.states import ApplicationDocuments
from dialogs.enrolment.status.states import ApplicationStatus


def _key(item: tuple[str, str]) -> str:
    return item[0]


def _index(item: tuple[int, str]) -> str:
    return str(item[0])


def _nav(prefix: str) -> Row:
    """«Назад» (the previous question), «К заявлению» (when editing) and «В меню».

    The draft is in the database: «Заявление на ЭМК» continues it later.
    """
    return nav_row(
        back_button(id=f"{prefix}_back", on_click=handlers.on_back, when="can_back"),
        Button(
            Const("К заявлению"),
            id=f"{prefix}_review",
            on_click=handlers.on_to_review,
            when="editing",
        ),
        menu_button(id=f"{prefix}_menu"),
    )


def _to_status(id: str, when: str | None = None) -> Start:
    return Start(
        Const("Статус заявки"),
        id=id,
        state=ApplicationStatus.main,
        mode=StartMode.RESET_STACK,
        when=when,
    )


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("Заявление на ЭМК · шаг {step} из {total}\n"),
            Format("ℹ️ {notice}\n", when="notice"),
            Format("{label}\n{question}"),
            Format("\nСейчас указано: {current}", when="current"),
            error_line,
            text_input(handlers.on_text),
            Group(
                Select(
                    Format("{item[1]}"),
                    id="choice",
                    item_id_getter=_key,
                    items="choices",
                    on_click=handlers.on_choice,
                ),
                width=2,
                when="choices",
            ),
            Select(
                Format("{item[1]}"),
                id="preset",
                item_id_getter=_index,
                items="presets",
                on_click=handlers.on_preset,
            ),
            Button(
                Format("Использовать номер учётной записи {account_phone}"),
                id="account_phone",
                on_click=handlers.on_account_phone,
                when="is_phone",
            ),
            Button(
                Format("Использовать: {account_value}"),
                id="account_value",
                on_click=handlers.on_account_value,
                when="offer_account",
            ),
            Button(Const("Пропустить"), id="skip", on_click=handlers.on_skip, when="can_skip"),
            Button(Const("Далее"), id="next", on_click=handlers.on_next, when="can_next"),
            Button(Const("Не указывать"), id="clear", on_click=handlers.on_clear, when="can_clear"),
            _nav("field"),
            state=ApplicationForm.field,
            getter=field_getter,
        ),
        Window(
            Format("Заявление на ЭМК · шаг {step} из {total}\n"),
            Format("ℹ️ {notice}\n", when="notice"),
            Format("{page_text}"),
            Format("\nСтраница {page_no} из {pages}", when="paged"),
            Format("\n{question}", when="last"),
            Format("\nСейчас: {given}", when="given"),
            error_line,
            Button(Const("Даю согласие"), id="consent", on_click=handlers.on_consent, when="last"),
            Row(
                Button(
                    Const("Предыдущая страница"),
                    id="consent_prev",
                    on_click=handlers.on_consent_page,
                    when="has_prev",
                ),
                Button(
                    Const("Следующая страница"),
                    id="consent_next",
                    on_click=handlers.on_consent_page,
                    when="has_next",
                ),
            ),
            _nav("consent"),
            buttons_only(),
            state=ApplicationForm.consent,
            getter=consent_getter,
        ),
        Window(
            Format("{text}"),
            error_line,
            Column(
                Select(
                    Format("Изменить: {item[1]}"),
                    id="edit",
                    item_id_getter=_key,
                    items="fields",
                    on_click=handlers.on_edit,
                ),
                when="editable",
            ),
            Row(
                Start(
                    Const("Документы"),
                    id="documents",
                    state=ApplicationDocuments.slots,
                    when="editable",
                ),
                Button(
                    Const("Отправить"), id="submit", on_click=handlers.on_submit, when="editable"
                ),
            ),
            _to_status("status", when="needs_fix"),
            menu_button(id="review_menu"),
            buttons_only(),
            state=ApplicationForm.review,
            getter=review_getter,
        ),
        Window(
            Const("Заявка принята.\n"),
            Format("Номер заявки: {number}."),
            Const(
                "Мы проверим данные и документы и сообщим о результате в этом чате. "
                "Следить за заявкой можно в разделе «Статус заявки»."
            ),
            _to_status("accepted_status"),
            menu_button(id="accepted_menu"),
            error_line,
            buttons_only(),
            state=ApplicationForm.accepted,
            getter=accepted_getter,
        ),
        on_start=handlers.on_start,
        on_process_result=handlers.on_result,
    )
