"""«Доступ для близких»: the grants, one grant's actions, and the invitation wizard."""

from operator import itemgetter

from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.kbd import Button, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only, text_input
from dialogs.core.widgets import back_button, error_line, menu_button, nav_row, switch_button
from dialogs.sharing.access import handlers
from dialogs.sharing.access.getters import grant_getter, invite_getter, list_getter
from dialogs.sharing.access.states import RelativesAccess

TITLE = "Доступ для близких"
INVITE = "Пригласить близкого человека\n"
TO_LIST = "К списку"


def _select(id: str, items: str, on_click: object) -> Column:
    return Column(
        Select(
            Format("{item[1]}"),
            id=id,
            item_id_getter=itemgetter(0),
            items=items,
            on_click=on_click,  # type: ignore[arg-type]
        )
    )


def _cancel_invite() -> Button:
    return switch_button("Отмена", id="cancel_invite", state=RelativesAccess.main)


def _list_windows() -> list[Window]:
    return [
        Window(
            Const(f"{TITLE}\n"),
            Const(
                "Здесь вы решаете, кто из близких может смотреть вашу медкарту, и можете в "
                "любой момент изменить или отозвать доступ.\n"
            ),
            Format("{lines}"),
            error_line,
            _select("grant", "grants", handlers.on_grant),
            Button(Const("Пригласить"), id="invite", on_click=handlers.on_invite),
            menu_button(),
            buttons_only(),
            state=RelativesAccess.main,
            getter=list_getter,
        ),
        Window(
            Format("{text}"),
            error_line,
            switch_button(
                "Изменить уровень", id="level", state=RelativesAccess.level, when="can_change"
            ),
            switch_button("Продлить", id="extend", state=RelativesAccess.extend, when="can_change"),
            switch_button("Отозвать", id="revoke", state=RelativesAccess.revoke, when="can_revoke"),
            Button(
                Const("Отправить приглашение ещё раз"),
                id="resend",
                on_click=handlers.on_resend,
                when="pending",
            ),
            Button(
                Const("Отозвать приглашение"),
                id="withdraw",
                on_click=handlers.on_withdraw,
                when="pending",
            ),
            nav_row(
                back_button(id="to_list", text=TO_LIST, state=RelativesAccess.main), menu_button()
            ),
            buttons_only(),
            state=RelativesAccess.grant,
            getter=grant_getter,
        ),
        Window(
            Const("Изменить уровень доступа\n"),
            Format("{level_lines}"),
            Const("\nВыберите новый уровень."),
            error_line,
            _select("new_level", "levels", handlers.on_level),
            Button(
                Const("Показывать чувствительные результаты"),
                id="sensitive_on",
                on_click=handlers.on_sensitive_on,
                when="not_sensitive",
            ),
            Button(
                Const("Скрыть чувствительные результаты"),
                id="sensitive_off",
                on_click=handlers.on_sensitive_off,
                when="sensitive",
            ),
            back_button(state=RelativesAccess.grant),
            buttons_only(),
            state=RelativesAccess.level,
            getter=grant_getter,
        ),
        Window(
            Const("Продлить доступ\n"),
            Const(
                "Напишите последний день доступа в формате ДД.ММ.ГГГГ, например 31.12.2027, "
                "или нажмите «Бессрочно»."
            ),
            error_line,
            text_input(handlers.on_extend_date),
            Button(Const("Бессрочно"), id="forever", on_click=handlers.on_extend_forever),
            back_button(state=RelativesAccess.grant),
            state=RelativesAccess.extend,
        ),
        Window(
            Format("Отозвать доступ для {name}?\n"),
            Const(
                "Доступ закроется сразу: при следующем действии в боте человек увидит, что "
                "доступ отозван. Подтвердите действие кодом из SMS."
            ),
            error_line,
            Button(Const("Отозвать доступ"), id="revoke_confirm", on_click=handlers.on_revoke),
            back_button(state=RelativesAccess.grant),
            buttons_only(),
            state=RelativesAccess.revoke,
            getter=grant_getter,
        ),
    ]


def _invite_windows() -> list[Window]:
    return [
        Window(
            Const(INVITE),
            Const("Шаг 1 из 6. Напишите фамилию, имя и отчество близкого человека."),
            error_line,
            text_input(handlers.on_name),
            _cancel_invite(),
            state=RelativesAccess.invite_name,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const(
                "Шаг 2 из 6. Напишите номер его мобильного телефона, например +7 999 123-45-67. "
                "На этот номер придёт ссылка-приглашение, и только с ним приглашение можно "
                "принять."
            ),
            error_line,
            text_input(handlers.on_phone),
            nav_row(back_button(state=RelativesAccess.invite_name), _cancel_invite()),
            state=RelativesAccess.invite_phone,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const("Шаг 3 из 6. Кем вам приходится этот человек?"),
            error_line,
            _select("relationship", "relationships", handlers.on_relationship),
            nav_row(back_button(state=RelativesAccess.invite_phone), _cancel_invite()),
            buttons_only(),
            state=RelativesAccess.invite_relationship,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const("Шаг 4 из 6. Какой доступ открыть?\n"),
            Format("{level_lines}"),
            error_line,
            _select("level", "levels", handlers.on_invite_level),
            nav_row(back_button(state=RelativesAccess.invite_relationship), _cancel_invite()),
            buttons_only(),
            state=RelativesAccess.invite_level,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const("Шаг 5 из 6. На какой срок открыть доступ?"),
            error_line,
            Button(Const("Бессрочно"), id="forever", on_click=handlers.on_forever),
            switch_button("До определённой даты", id="until", state=RelativesAccess.invite_until),
            nav_row(back_button(state=RelativesAccess.invite_level), _cancel_invite()),
            buttons_only(),
            state=RelativesAccess.invite_term,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const("Напишите последний день доступа в формате ДД.ММ.ГГГГ, например 31.12.2027."),
            error_line,
            text_input(handlers.on_until),
            nav_row(back_button(state=RelativesAccess.invite_term), _cancel_invite()),
            state=RelativesAccess.invite_until,
            getter=invite_getter,
        ),
        Window(
            Const(INVITE),
            Format("{entered}\n", when="entered"),
            Const(
                "Шаг 6 из 6. Показывать ли чувствительные результаты — например, анализы на ВИЧ, "
                "гепатиты и генетические исследования? Обычно их не показывают."
            ),
            error_line,
            Button(Const("Нет, не показывать"), id="include_no", on_click=handlers.on_include_no),
            Button(Const("Да, показывать"), id="include_yes", on_click=handlers.on_include_yes),
            nav_row(back_button(state=RelativesAccess.invite_term), _cancel_invite()),
            buttons_only(),
            state=RelativesAccess.invite_sensitive,
            getter=invite_getter,
        ),
        Window(
            Const("Проверьте приглашение\n"),
            Format("{entered}\n"),
            Const(
                "Ссылка-приглашение будет действовать 7 дней, по ней можно войти один раз. "
                "Чтобы отправить приглашение, подтвердите его кодом из SMS."
            ),
            error_line,
            Button(Const("Подтвердить кодом"), id="confirm", on_click=handlers.on_confirm_invite),
            switch_button("Изменить", id="edit", state=RelativesAccess.invite_name),
            _cancel_invite(),
            buttons_only(),
            state=RelativesAccess.invite_review,
            getter=invite_getter,
        ),
        Window(
            Const("Приглашение создано\n"),
            Const("Перешлите эту ссылку близкому человеку. Она действует 7 дней и один раз:\n"),
            Format("{link}\n"),
            Format("{sms_line}"),
            Const(
                "\nКогда приглашение примут, вы получите уведомление. Доступ можно изменить или "
                "отозвать в разделе «Доступ для близких»."
            ),
            error_line,
            nav_row(
                back_button(id="to_list", text=TO_LIST, state=RelativesAccess.main), menu_button()
            ),
            buttons_only(),
            state=RelativesAccess.invite_done,
            getter=invite_getter,
        ),
    ]


def build_dialog() -> Dialog:
    return Dialog(*_list_windows(), *_invite_windows(), on_process_result=handlers.on_result)
