"""A doctor's changes to an open card: windows (the card's header line on each)."""

from operator import itemgetter

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Row, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.clinic.card import handlers
from dialogs.clinic.card.getters import (
    confirm_getter,
    content_getter,
    done_getter,
    icd_getter,
    note_getter,
    recipient_getter,
    referral_getter,
    referral_reason_getter,
    resolve_getter,
    send_note_getter,
)
from dialogs.clinic.card.states import DoctorActions
from dialogs.core.card import card_header
from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import error_line, switch_button

TO_CARD = "К карте"
TO_ACTIONS = "К записям врача"


def _to_card() -> Cancel:
    return Cancel(Const(TO_CARD), id="to_card")


def _back() -> Button:
    return switch_button(TO_ACTIONS, id="to_actions", state=DoctorActions.main)


def _select(id: str, on_click: object, items: str = "items") -> Column:
    return Column(
        Select(
            Format("{item[1]}"),
            id=id,
            item_id_getter=itemgetter(0),
            items=items,
            on_click=on_click,  # type: ignore[arg-type]
        )
    )


def _main() -> Window:
    return Window(
        card_header,
        Const(
            "Записи врача\n\nЧто внести в карту пациента? Каждая запись подписывается вашим "
            "именем и датой, пациент увидит её в своей медкарте."
        ),
        error_line,
        Row(
            Button(Const("Диагноз"), id="diagnosis", on_click=handlers.on_add_diagnosis),
            switch_button("Снять диагноз", id="resolve", state=DoctorActions.resolve),
        ),
        Row(
            switch_button("Назначение", id="prescription", state=DoctorActions.rx_name),
            switch_button("Направление", id="referral", state=DoctorActions.referral),
        ),
        Row(
            Button(Const("План лечения"), id="plan", on_click=handlers.on_note),
            Button(Const("Анамнез"), id="anamnesis", on_click=handlers.on_note),
        ),
        Button(Const("Заключение"), id="conclusion", on_click=handlers.on_conclusion),
        Button(Const("Отправить выписку врачу"), id="send", on_click=handlers.on_send),
        _to_card(),
        buttons_only(),
        state=DoctorActions.main,
    )


def _diagnosis() -> Window:
    return Window(
        card_header,
        Format(
            "Найдите {what} по МКБ-10: напишите код (например, J06.9) или слова из "
            "названия (например, гастрит)."
        ),
        Format("\nПоиск: {query}. Выберите диагноз из списка.", when="searched"),
        Const("\nНичего не нашлось. Попробуйте другой код или другие слова.", when="nothing"),
        error_line,
        text_input(handlers.on_icd_query),
        _select("icd", handlers.on_icd_pick, "found"),
        _back(),
        state=DoctorActions.diagnosis,
        getter=icd_getter,
    )


def _resolve() -> Window:
    return Window(
        card_header,
        Const("Какой диагноз снять? Он останется в карте с отметкой «снят» и датой."),
        Const("\nАктивных диагнозов в карте нет.", when="none"),
        error_line,
        _select("resolve", handlers.on_resolve),
        _back(),
        buttons_only(),
        state=DoctorActions.resolve,
        getter=resolve_getter,
    )


def _ask(state: object, prompt: str, on_text: object, *extra: Button) -> Window:
    return Window(
        card_header,
        Const(prompt),
        error_line,
        text_input(on_text),  # type: ignore[arg-type]
        *extra,
        _back(),
        state=state,  # type: ignore[arg-type]
    )


def _note() -> Window:
    return Window(
        card_header,
        Format("{title}\n\n{prompt}"),
        error_line,
        text_input(handlers.on_note_text),
        _back(),
        state=DoctorActions.note,
        getter=note_getter,
    )


def _referral() -> Window:
    return Window(
        card_header,
        Const(
            "Направление. К какому специалисту направить пациента? Направление действует "
            "30 дней, по нему пациент сможет записаться на приём."
        ),
        error_line,
        _select("specialty", handlers.on_specialty),
        _back(),
        buttons_only(),
        state=DoctorActions.referral,
        getter=referral_getter,
    )


def _referral_reason() -> Window:
    return Window(
        card_header,
        Format(
            "Направление: {specialty}.\n\nНапишите причину направления или нажмите "
            "«Без комментария»."
        ),
        error_line,
        text_input(handlers.on_referral_reason),
        Button(Const("Без комментария"), id="no_reason", on_click=handlers.on_referral_no_reason),
        _back(),
        state=DoctorActions.referral_reason,
        getter=referral_reason_getter,
    )


def _confirm() -> Window:
    return Window(
        card_header,
        Format(
            "Заключение\n\nДиагноз: {diagnosis}\nРезультаты осмотра: {findings}\n"
            "Рекомендации: {recommendations}\nПовторный приём: {follow_up}\n\n"
            "Заключение будет подписано электронной подписью организации и появится "
            "у пациента в разделе «Выписки и заключения»."
        ),
        error_line,
        Button(Const("Выдать заключение"), id="issue", on_click=handlers.on_issue),
        _back(),
        buttons_only(),
        state=DoctorActions.conclusion_confirm,
        getter=confirm_getter,
    )


def _recipient() -> Window:
    return Window(
        card_header,
        Const(
            "Отправить выписку врачу. Напишите фамилию врача — он может работать в любой "
            "медицинской организации."
        ),
        Const("\nВыберите врача из списка.", when="found"),
        Const("\nВрачей с такой фамилией не нашлось.", when="nothing"),
        error_line,
        text_input(handlers.on_recipient_query),
        _select("recipient", handlers.on_recipient, "found"),
        _back(),
        state=DoctorActions.recipient,
        getter=recipient_getter,
    )


def _content() -> Window:
    return Window(
        card_header,
        Format(
            "Получатель: {recipient}.\n\nЧто отправить? Выписку из карты за последний год "
            "или одно из подписанных заключений."
        ),
        error_line,
        Button(Const("Выписка за год"), id="extract", on_click=handlers.on_content_extract),
        _select("conclusion", handlers.on_content_conclusion),
        _back(),
        buttons_only(),
        state=DoctorActions.content,
        getter=content_getter,
    )


def _send_note() -> Window:
    return Window(
        card_header,
        Format(
            "Получатель: {recipient}.\nЧто: {content}.\n\nНапишите сопроводительное письмо "
            "или нажмите «Без письма»."
        ),
        error_line,
        text_input(handlers.on_send_note),
        Button(Const("Без письма"), id="no_note", on_click=handlers.on_send_no_note),
        _back(),
        state=DoctorActions.send_note,
        getter=send_note_getter,
    )


def _done() -> Window:
    return Window(
        card_header,
        Format("✅ {result}"),
        error_line,
        Button(Const("Ещё запись"), id="more", on_click=handlers.on_more),
        _to_card(),
        buttons_only(),
        state=DoctorActions.done,
        getter=done_getter,
    )


def build_dialog() -> Dialog:
    return Dialog(
        _main(),
        _diagnosis(),
        _resolve(),
        _ask(
            DoctorActions.rx_name, "Назначение. Напишите название препарата.", handlers.on_rx_name
        ),
        _ask(DoctorActions.rx_dose, "Напишите дозировку, например: 500 мг.", handlers.on_rx_dose),
        _ask(
            DoctorActions.rx_how,
            "Как принимать? Например: по 1 таблетке 2 раза в день после еды.",
            handlers.on_rx_how,
        ),
        _ask(
            DoctorActions.rx_days,
            "Сколько дней длится курс? Напишите число или нажмите «Без срока».",
            handlers.on_rx_days,
            Button(Const("Без срока"), id="no_end", on_click=handlers.on_rx_no_end),
        ),
        _note(),
        _referral(),
        _referral_reason(),
        _ask(
            DoctorActions.findings, "Заключение. Напишите результаты осмотра.", handlers.on_findings
        ),
        _ask(
            DoctorActions.recommendations,
            "Напишите рекомендации пациенту.",
            handlers.on_recommendations,
        ),
        _ask(
            DoctorActions.follow_up,
            "Когда прийти на повторный приём? Например: через 2 недели, 17.12.2026.",
            handlers.on_follow_up,
        ),
        _confirm(),
        _recipient(),
        _content(),
        _send_note(),
        _done(),
    )
