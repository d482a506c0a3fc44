"""The questions of the application to open the ЭМК, each declared once.

A field is one ``FieldSpec``: its label and question, the columns of
``applications`` it fills, how a typed answer becomes those columns (or a
``ValidationError`` with the message to show) and how the stored value reads
back. Adding a question is one entry in ``FIELDS`` (and its column in
``storage/models/enrolment.py`` with a migration); nothing else has to know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers

from services.core.consent import CONSENT_VERSION
from services.core.errors import ValidationError
from services.core.validators import (
    format_snils,
    normalize_phone,
    normalize_snils,
    parse_policy_end,
    validate_address,
    validate_birth_date,
    validate_comment,
    validate_division_code,
    validate_email,
    validate_full_name,
    validate_inn,
    validate_issued_by,
    validate_passport_issue_date,
    validate_passport_number,
    validate_passport_series,
    validate_policy_number,
)
from services.enrolment.statuses import FieldKind
from storage.models import Account, Application

__all__ = [
    "FIELDS",
    "FIELD_BY_NAME",
    "KIND_CHOICES",
    "MSK",
    "POLICY_NO_END",
    "SEX_CHOICES",
    "FieldKind",
    "FieldSpec",
    "ParseContext",
    "format_date",
    "format_moment",
]

MSK = ZoneInfo("Europe/Moscow")

Columns = Mapping[str, object]

SEX_CHOICES = (("male", "Мужской"), ("female", "Женский"))
POLICY_NO_END = "Бессрочный"
KIND_CHOICES = (("new", "Новая карта"), ("update", "Обновление данных"))


@dataclass(frozen=True)
class ParseContext:
    """What checking an answer may depend on besides the text itself."""

    application: Application
    today: date


def format_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def format_moment(value: datetime) -> str:
    """A moment as people in Russia read it: Moscow time, «26.11.2026 12:00 (МСК)»."""
    return value.astimezone(MSK).strftime("%d.%m.%Y %H:%M") + " (МСК)"


def _format_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    question: str
    optional: bool = False
    kind: FieldKind = FieldKind.TEXT
    choices: tuple[tuple[str, str], ...] = ()
    # The columns of `applications` the field fills; by default its own name.
    columns: tuple[str, ...] = ()
    # Typed text → column values; None for choices (by key or label) and consent.
    parse_text: Callable[[str, ParseContext], Columns] | None = field(default=None, repr=False)
    # Stored value → what the person reads; None uses the column as it is.
    show: Callable[[Application], str | None] | None = field(default=None, repr=False)
    # An answer whose columns are all empty still answers the question (kept in
    # `skipped_fields`): an empty comment, a policy without an end date.
    empty_is_answer: bool = False
    # Answers offered as buttons besides typing (a button sends its label as text).
    presets: tuple[str, ...] = ()
    # What the portal account already knows for this question, as the person
    # would type it; offered as a button («Использовать: …»). None: nothing.
    from_account: Callable[[Account], str | None] | None = field(default=None, repr=False)

    @property
    def stored_in(self) -> tuple[str, ...]:
        return self.columns or (self.name,)

    def parse(self, raw: str, context: ParseContext) -> Columns:
        """The column values for `raw`, or ValidationError (nothing is changed)."""
        if self.kind == FieldKind.CHOICE:
            return {self.name: self._choice_key(raw)}
        if self.parse_text is None:
            raise ValueError(f"field {self.name!r} is not set from text")
        return self.parse_text(raw, context)

    def display(self, application: Application) -> str | None:
        """The field's value as the person reads it; None when it has no value."""
        if self.show is not None:
            return self.show(application)
        value = getattr(application, self.name)
        if value is None:
            return None
        if self.kind == FieldKind.CHOICE:
            return self.choice_label(value)
        if isinstance(value, date):
            return format_date(value)
        return str(value)

    def choice_label(self, key: str | None) -> str | None:
        return next((label for k, label in self.choices if k == key), None)

    def _choice_key(self, raw: str) -> str:
        text = raw.strip().casefold()
        for key, label in self.choices:
            if text in (key, label.casefold()):
                return key
        options = " или ".join(f"«{label}»" for _, label in self.choices)
        raise ValidationError(f"Выберите один из вариантов: {options}.")


def _one(column: str, check: Callable[[str], object]) -> Callable[[str, ParseContext], Columns]:
    return lambda raw, _context: {column: check(raw)}


def _parse_full_name(raw: str, _context: ParseContext) -> Columns:
    name = validate_full_name(raw)
    return {
        "last_name": name.last_name,
        "first_name": name.first_name,
        "middle_name": name.middle_name,
    }


def _show_full_name(a: Application) -> str | None:
    if a.last_name is None or a.first_name is None:
        return None
    return " ".join(p for p in (a.last_name, a.first_name, a.middle_name) if p)


def _parse_issue_date(raw: str, context: ParseContext) -> Columns:
    # Without a birth date yet, only the format and "not in the future" are
    # checked here; setting the birth date re-checks the issue date.
    born = context.application.birth_date or date(1, 1, 1)
    return {"passport_issue_date": validate_passport_issue_date(raw, born, context.today)}


def _show_policy_end(a: Application) -> str | None:
    if a.policy_end is not None:
        return format_date(a.policy_end)
    return POLICY_NO_END if "policy_end" in (a.skipped_fields or []) else None


def _account_full_name(account: Account) -> str | None:
    parts = (account.last_name, account.first_name, account.middle_name)
    return " ".join(p for p in parts if p) or None


def _show_policy_number(a: Application) -> str | None:
    p = a.policy_number
    return " ".join(p[i : i + 4] for i in range(0, 16, 4)) if p else None


def _show_passport_series(a: Application) -> str | None:
    s = a.passport_series
    return f"{s[:2]} {s[2:]}" if s else None


def _show_consent(a: Application) -> str | None:
    if a.consent_at is None or a.consent_version != CONSENT_VERSION:
        return None
    return f"Дано {format_moment(a.consent_at)}"


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "full_name",
        "Фамилия, имя, отчество",
        "Введите фамилию, имя и отчество через пробел, как в паспорте. Если отчества нет, "
        "введите фамилию и имя. Например: Петров Сергей Иванович.",
        columns=("last_name", "first_name", "middle_name"),
        parse_text=_parse_full_name,
        show=_show_full_name,
        from_account=_account_full_name,
    ),
    FieldSpec(
        "birth_date",
        "Дата рождения",
        "Введите дату рождения в формате ДД.ММ.ГГГГ, например 05.03.1990.",
        parse_text=lambda raw, c: {"birth_date": validate_birth_date(raw, c.today)},
    ),
    FieldSpec("sex", "Пол", "Укажите ваш пол.", kind=FieldKind.CHOICE, choices=SEX_CHOICES),
    FieldSpec(
        "snils",
        "СНИЛС",
        "Введите СНИЛС — 11 цифр, например 123-456-789 64.",
        parse_text=_one("snils", normalize_snils),
        show=lambda a: format_snils(a.snils) if a.snils else None,
        from_account=lambda account: format_snils(account.snils) if account.snils else None,
    ),
    FieldSpec(
        "policy_number",
        "Номер полиса ОМС",
        "Введите номер полиса ОМС — 16 цифр, например 1234 5678 9012 3456.",
        parse_text=_one("policy_number", validate_policy_number),
        show=_show_policy_number,
    ),
    FieldSpec(
        "policy_end",
        "Полис ОМС действует до",
        "Введите дату окончания действия полиса ОМС в формате ДД.ММ.ГГГГ, например 31.12.2030. "
        "Если срок действия в полисе не указан, нажмите «Бессрочный».",
        parse_text=lambda raw, c: {"policy_end": parse_policy_end(raw, c.today)},
        show=_show_policy_end,
        empty_is_answer=True,
        presets=(POLICY_NO_END,),
    ),
    FieldSpec(
        "passport_series",
        "Серия паспорта",
        "Введите серию паспорта — 4 цифры, например 45 08.",
        parse_text=_one("passport_series", validate_passport_series),
        show=_show_passport_series,
    ),
    FieldSpec(
        "passport_number",
        "Номер паспорта",
        "Введите номер паспорта — 6 цифр, например 123456.",
        parse_text=_one("passport_number", validate_passport_number),
    ),
    FieldSpec(
        "passport_issue_date",
        "Дата выдачи паспорта",
        "Введите дату выдачи паспорта в формате ДД.ММ.ГГГГ, например 20.07.2005.",
        parse_text=_parse_issue_date,
    ),
    FieldSpec(
        "passport_division_code",
        "Код подразделения",
        "Введите код подразделения, выдавшего паспорт, — 6 цифр в формате 000-000, "
        "например 770-001.",
        parse_text=_one("passport_division_code", validate_division_code),
    ),
    FieldSpec(
        "passport_issued_by",
        "Кем выдан паспорт",
        "Введите, кем выдан паспорт, как в документе, например: ГУ МВД России по г. Москве.",
        parse_text=_one("passport_issued_by", validate_issued_by),
    ),
    FieldSpec(
        "inn",
        "ИНН",
        "Введите ИНН — 12 цифр, например 500100732259. Это необязательно: поле можно пропустить.",
        optional=True,
        parse_text=_one("inn", validate_inn),
    ),
    FieldSpec(
        "address",
        "Адрес регистрации",
        "Введите адрес регистрации, как в паспорте, например: г. Москва, ул. Тверская, "
        "д. 1, кв. 5.",
        parse_text=_one("address", validate_address),
    ),
    FieldSpec(
        "phone",
        "Контактный телефон",
        "Введите контактный телефон, например +7 999 000-00-01, или выберите номер "
        "из учётной записи.",
        parse_text=_one("phone", normalize_phone),
        show=lambda a: _format_phone(a.phone) if a.phone else None,
        from_account=lambda account: account.phone,
    ),
    FieldSpec(
        "email",
        "Электронная почта",
        "Введите адрес электронной почты, например name@example.ru. Это необязательно: "
        "поле можно пропустить.",
        optional=True,
        parse_text=_one("email", validate_email),
        from_account=lambda account: account.email,
    ),
    FieldSpec(
        "kind",
        "Тип обращения",
        "Выберите тип обращения: новая карта, если карты у вас ещё нет, или обновление "
        "данных в уже открытой карте.",
        kind=FieldKind.CHOICE,
        choices=KIND_CHOICES,
    ),
    FieldSpec(
        "comment",
        "Комментарий",
        "Если хотите, напишите комментарий к заявлению (до 1000 символов). Это необязательно: "
        "поле можно пропустить.",
        optional=True,
        parse_text=_one("comment", validate_comment),
        empty_is_answer=True,  # an empty comment is a skipped one
    ),
    FieldSpec(
        "consent",
        "Согласие на обработку данных",
        "Прочитайте согласие на обработку персональных данных, включая сведения о состоянии "
        "здоровья. Чтобы продолжить, подтвердите согласие.",
        kind=FieldKind.CONSENT,
        columns=("consent_version", "consent_at"),
        show=_show_consent,
    ),
)
FIELD_BY_NAME = {spec.name: spec for spec in FIELDS}
