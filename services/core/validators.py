"""Validation and normalisation of what a person types into the bot.

Every function here is pure: it takes the raw text (``str``), strips it, and
either returns a normalised value or raises :class:`services.core.errors.ValidationError`
with a short, polite Russian message that a dialog can show as it is.  Dates that
depend on "now" take ``today`` explicitly, so the functions stay deterministic.

Libraries used:

* ``phonenumbers`` — parsing and validating phone numbers (E.164 output);
* ``python-stdnum`` (``stdnum.ru.inn``) — the ИНН check digits;
* ``email-validator`` — e-mail syntax (no DNS look-ups).

The СНИЛС control number has no maintained library implementation, so it is
computed here by the Pension Fund's published rule (see :func:`snils_control_number`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

import email_validator
import phonenumbers
from stdnum.ru import inn as stdnum_inn

from services.core.errors import ValidationError

__all__ = [
    "FullName",
    "Login",
    "add_years",
    "format_snils",
    "normalize_phone",
    "normalize_snils",
    "parse_date",
    "parse_login",
    "parse_policy_end",
    "snils_control_number",
    "validate_address",
    "validate_birth_date",
    "validate_comment",
    "validate_division_code",
    "validate_email",
    "validate_full_name",
    "validate_inn",
    "validate_issued_by",
    "validate_passport_issue_date",
    "validate_passport_number",
    "validate_passport_series",
    "validate_policy_end_date",
    "validate_policy_number",
]

# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

MAX_FULL_NAME_LENGTH = 100
MAX_ISSUED_BY_LENGTH = 200
MAX_ADDRESS_LENGTH = 300
MAX_COMMENT_LENGTH = 1000
MAX_AGE_YEARS = 120
PASSPORT_MIN_AGE_YEARS = 14
# A phone number is never longer than this, however it is spelled; longer input
# is refused before it reaches the parser.
_MAX_PHONE_INPUT_LENGTH = 40
# СНИЛС numbers up to and including 001-001-998 carry no control number.
_SNILS_NO_CHECK_MAX = 1_001_998

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

_PHONE_EXAMPLE = "+7 999 000-00-01"
_SNILS_EXAMPLE = "123-456-789 64"
_DATE_EXAMPLE = "05.03.1990"

MSG_PHONE_FORMAT = (
    f"Номер телефона указан неверно. Введите его в формате {_PHONE_EXAMPLE} или 8 999 000-00-01."
)
MSG_SNILS_LENGTH = (
    f"СНИЛС состоит из 11 цифр, например {_SNILS_EXAMPLE}. Проверьте номер и введите ещё раз."
)
MSG_SNILS_CHECKSUM = (
    "В номере СНИЛС ошибка: не сходится контрольное число (последние две цифры). "
    "Сверьте номер с документом и введите ещё раз."
)
MSG_LOGIN_UNKNOWN = (
    f"Не получилось распознать логин. Введите телефон (например {_PHONE_EXAMPLE}), "
    f"электронную почту или СНИЛС (например {_SNILS_EXAMPLE})."
)
MSG_LOGIN_AMBIGUOUS = (
    "Это не похоже ни на номер телефона, ни на СНИЛС. "
    f"Введите телефон как {_PHONE_EXAMPLE} или СНИЛС как {_SNILS_EXAMPLE}."
)
MSG_NAME_EMPTY = (
    "Введите фамилию, имя и отчество (если оно есть) через пробел, "
    "например: Иванова Анна Сергеевна."
)
MSG_NAME_TOO_SHORT = (
    "Нужны как минимум фамилия и имя через пробел, отчество — если оно есть. "
    "Например: Иванова Анна Сергеевна."
)
MSG_NAME_TOO_LONG = (
    f"ФИО слишком длинное: не более {MAX_FULL_NAME_LENGTH} символов. Проверьте и введите ещё раз."
)
MSG_NAME_CHARS = (
    "В ФИО можно использовать только русские буквы, дефис и апостроф. "
    "Например: Римская-Корсакова Анна Сергеевна."
)
MSG_NAME_HYPHEN = (
    "Дефис и апостроф могут стоять только между буквами, "
    "например: Римская-Корсакова Анна Сергеевна."
)
MSG_DATE_FORMAT = f"Введите дату в формате ДД.ММ.ГГГГ, например {_DATE_EXAMPLE}."
MSG_DATE_NONEXISTENT = (
    f"Такой даты нет в календаре. Проверьте день и месяц и введите дату "
    f"в формате ДД.ММ.ГГГГ, например {_DATE_EXAMPLE}."
)
MSG_BIRTH_FUTURE = "Дата рождения не может быть в будущем. Проверьте и введите ещё раз."
MSG_BIRTH_TOO_OLD = (
    f"Возраст не может быть больше {MAX_AGE_YEARS} лет. Проверьте год рождения "
    "и введите дату ещё раз."
)
MSG_POLICY_NUMBER = (
    "Номер полиса ОМС состоит из 16 цифр, например 1234 5678 9012 3456. "
    "Проверьте номер и введите ещё раз."
)
MSG_POLICY_EXPIRED = (
    "Срок действия закончился — полис не действует. Если у вас есть новый полис, "
    "введите дату из него."
)
MSG_PASSPORT_SERIES = "Серия паспорта — 4 цифры, например 45 08. Проверьте и введите ещё раз."
MSG_PASSPORT_NUMBER = "Номер паспорта — 6 цифр, например 123456. Серию вводить не нужно."
MSG_ISSUE_FUTURE = "Дата выдачи не может быть в будущем. Проверьте и введите ещё раз."
MSG_ISSUE_TOO_EARLY = (
    "Паспорт выдают не раньше 14-летия, а эта дата раньше. Проверьте дату выдачи и дату рождения."
)
MSG_DIVISION_CODE = "Код подразделения — 6 цифр, например 770-001. Проверьте и введите ещё раз."
MSG_ISSUED_BY_EMPTY = (
    "Укажите, кем выдан паспорт, как в документе, например: ГУ МВД России по г. Москве."
)
MSG_ISSUED_BY_TOO_LONG = (
    f"Слишком длинный текст: не более {MAX_ISSUED_BY_LENGTH} символов. Сократите, пожалуйста."
)
MSG_INN_COMPANY = (
    "Это ИНН организации (10 цифр). Введите ваш личный ИНН из 12 цифр, например 500100732259."
)
MSG_INN_LENGTH = (
    "Личный ИНН состоит из 12 цифр, например 500100732259. Проверьте и введите ещё раз."
)
MSG_INN_CHECKSUM = (
    "В ИНН ошибка: не сходятся контрольные цифры. Сверьте номер с документом и введите ещё раз."
)
MSG_EMAIL = "Адрес электронной почты указан неверно. Введите его в виде name@example.ru."
MSG_ADDRESS_EMPTY = "Введите адрес, например: г. Москва, ул. Тверская, д. 1, кв. 5."
MSG_ADDRESS_INCOMPLETE = (
    "Укажите адрес полностью: населённый пункт, улицу и номер дома, например: "
    "г. Москва, ул. Тверская, д. 1, кв. 5."
)
MSG_ADDRESS_TOO_LONG = (
    f"Адрес слишком длинный: не более {MAX_ADDRESS_LENGTH} символов. Сократите, пожалуйста."
)
MSG_COMMENT_TOO_LONG = (
    f"Комментарий слишком длинный: не более {MAX_COMMENT_LENGTH} символов. Сократите, пожалуйста."
)
MSG_CONTROL_CHARS = "В тексте есть служебные символы. Введите обычный текст, пожалуйста."

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# ASCII digits only: ``\d`` would also match Arabic-Indic, full-width and other digits.
_DIGITS = re.compile(r"[0-9]+")
_WHITESPACE = re.compile(r"\s+")
# Characters that may appear in a phone number as people write it.
_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-.]+")
# "123-456-789 64", "123 456 789 64", "123-456-789-64"
_SNILS_SHAPE = re.compile(r"[0-9]{3}[ -][0-9]{3}[ -][0-9]{3}[ -][0-9]{2}")
_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
# Control characters other than tab and line breaks.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Look-alikes that phones and Telegram clients put into typed text.
_SPACE_AND_DASH_LOOKALIKES = {
    **{ord(ch): " " for ch in "\u00a0\u2007\u2009\u202f"},
    **{ord(ch): "-" for ch in "\u2010\u2011\u2012\u2013\u2014\u2212"},
}


def _prepare(raw: str) -> str:
    """Strip, and turn no-break/thin spaces and typographic dashes into plain ones."""
    return raw.translate(_SPACE_AND_DASH_LOOKALIKES).strip()


def _digits_only(text: str, separators: str) -> str | None:
    """Remove the ``separators`` from ``text``; ``None`` unless only ASCII digits remain."""
    compact = text.translate({ord(ch): None for ch in separators})
    return compact if _DIGITS.fullmatch(compact) else None


def _collapse_spaces(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier, if negative).

    29 February moves to 28 February in a year that is not a leap year: by
    art. 192 § 3 of the Civil Code of the Russian Federation a period counted in
    years ends on the last day of the month when that month has no such day.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February -> not a leap year
        return day.replace(year=day.year + years, day=28)


# ---------------------------------------------------------------------------
# Phone
# ---------------------------------------------------------------------------


def normalize_phone(raw: str, region: str = "RU") -> str:
    """A phone number in any usual spelling, as E.164 (``+79990000001``).

    ``8 (999) 000-00-01``, ``+7 999 000-00-01``, ``79990000001`` and
    ``9990000001`` are all read as ``+79990000001`` (``region`` supplies the
    country for numbers written without ``+``).  Only digits, one leading ``+``,
    spaces, hyphens, dots and parentheses are allowed: letters (``8-800-FLOWERS``)
    and extensions are refused.  The number must be valid by
    ``phonenumbers.is_valid_number`` (any country when written with ``+``).
    """
    text = _prepare(raw)
    if not text or len(text) > _MAX_PHONE_INPUT_LENGTH or not _PHONE_CHARS.fullmatch(text):
        raise ValidationError(MSG_PHONE_FORMAT)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(MSG_PHONE_FORMAT) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(MSG_PHONE_FORMAT)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _russian_phone_from_11_digits(digits: str) -> str | None:
    """``+7XXXXXXXXXX`` if ``digits`` (11, starting 7 or 8) is a valid Russian number."""
    candidate = "+7" + digits[1:]
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number_for_region(number, "RU"):
        return candidate
    return None


# ---------------------------------------------------------------------------
# СНИЛС
# ---------------------------------------------------------------------------


def snils_control_number(first_nine: str) -> str:
    """The two-digit control number of a СНИЛС, by the Pension Fund's rule.

    Sum of ``digit_i * (9 - i)`` over the first nine digits (i = 0..8, so the
    weights are 9, 8, …, 1); below 100 the sum is the control number; 100 and 101
    give ``00``; above 101 it is the sum modulo 101, where 100 again gives ``00``.
    """
    if len(first_nine) != 9 or not _DIGITS.fullmatch(first_nine):
        raise ValueError("expected the first nine digits of a СНИЛС")
    total = sum(int(d) * (9 - i) for i, d in enumerate(first_nine))
    if total < 100:
        control = total
    elif total in (100, 101):
        control = 0
    else:
        control = total % 101
        if control == 100:
            control = 0
    return f"{control:02d}"


def _snils_checksum_ok(digits: str) -> bool:
    if int(digits[:9]) <= _SNILS_NO_CHECK_MAX:
        return True
    return snils_control_number(digits[:9]) == digits[9:]


def normalize_snils(raw: str) -> str:
    """A СНИЛС as 11 digits (``12345678964``).

    Spaces and hyphens anywhere are ignored (``123-456-789 64``).  The control
    number is checked for numbers above 001-001-998; numbers up to and including
    001-001-998 were issued without one, so any last two digits are accepted.
    A wrong length and a wrong control number have different messages.
    """
    digits = _digits_only(_prepare(raw), " -")
    if digits is None or len(digits) != 11:
        raise ValidationError(MSG_SNILS_LENGTH)
    if not _snils_checksum_ok(digits):
        raise ValidationError(MSG_SNILS_CHECKSUM)
    return digits


def format_snils(digits: str) -> str:
    """``12345678964`` -> ``123-456-789 64``.

    ``digits`` must be 11 ASCII digits (as :func:`normalize_snils` returns); any
    other value is a programming error and raises ``ValueError``.
    """
    if len(digits) != 11 or not _DIGITS.fullmatch(digits):
        raise ValueError("format_snils expects 11 digits")
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


# ---------------------------------------------------------------------------
# Login
# ---------------------------------------------------------------------------

LoginKind = Literal["phone", "email", "snils"]


@dataclass(frozen=True, slots=True)
class Login:
    """A portal login: a phone (E.164), an e-mail (lower case) or a СНИЛС (11 digits)."""

    kind: LoginKind
    value: str


def parse_login(raw: str) -> Login:
    """Recognise a portal login typed as a phone, an e-mail or a СНИЛС.

    The rule, in order:

    1. Contains ``@`` → e-mail (syntax checked, lower-cased).
    2. Has the СНИЛС shape ``NNN-NNN-NNN NN`` (groups 3-3-3-2 separated by
       hyphens or spaces) → СНИЛС, control number checked.
    3. Contains ``+`` or parentheses → phone (any valid number, E.164).
    4. Otherwise spaces, hyphens and dots are removed; if only digits remain:

       * 11 digits starting with 7 or 8 are ambiguous.  They are a phone when
         ``+7`` + the last ten digits is a valid Russian number; failing that,
         a СНИЛС when the control number holds; failing both, refused.  So a
         СНИЛС that happens to look like a valid Russian phone must be typed
         with its hyphens (``799-900-000 50``);
       * other 11 digits → СНИЛС (control number checked);
       * 10 digits → a Russian phone without the leading 8 (``9990000001``).

    5. Anything else is refused with a message listing the three forms.
    """
    text = _prepare(raw)
    if not text:
        raise ValidationError(MSG_LOGIN_UNKNOWN)
    if "@" in text:
        return Login("email", validate_email(text))
    if _SNILS_SHAPE.fullmatch(text):
        return Login("snils", normalize_snils(text))
    if any(ch in text for ch in "+()"):
        return Login("phone", normalize_phone(text))
    digits = _digits_only(text, " -.")
    if digits is None:
        raise ValidationError(MSG_LOGIN_UNKNOWN)
    if len(digits) == 11 and digits[0] in "78":
        phone = _russian_phone_from_11_digits(digits)
        if phone is not None:
            return Login("phone", phone)
        if _snils_checksum_ok(digits):
            return Login("snils", digits)
        raise ValidationError(MSG_LOGIN_AMBIGUOUS)
    if len(digits) == 11:
        return Login("snils", normalize_snils(digits))
    if len(digits) == 10:
        return Login("phone", normalize_phone(digits))
    raise ValidationError(MSG_LOGIN_UNKNOWN)


# ---------------------------------------------------------------------------
# Full name
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FullName:
    """Фамилия, имя и (если есть) отчество, each properly capitalised."""

    last_name: str
    first_name: str
    middle_name: str | None

    def __str__(self) -> str:
        parts = [self.last_name, self.first_name]
        if self.middle_name:
            parts.append(self.middle_name)
        return " ".join(parts)


_CYRILLIC_LETTER = "А-Яа-яЁё"
_NAME_CHARS = re.compile(rf"[{_CYRILLIC_LETTER}'\- ]+")
_NAME_WORD = re.compile(rf"[{_CYRILLIC_LETTER}]+(?:['\-][{_CYRILLIC_LETTER}]+)*")
_APOSTROPHES = {ord(ch): "'" for ch in "’ʼ‘`´"}
_DASHES = {ord(ch): "-" for ch in "‐‑‒–—"}
# Turkic patronymic particles written in lower case after the father's name
# («Гейдар оглы», «Айгуль кызы»).
_PATRONYMIC_PARTICLES = frozenset({"оглы", "кызы", "улы", "уулу", "гызы"})


def _capitalize_segment(segment: str) -> str:
    """One hyphen-separated piece of a name.

    All lower or all upper case → ``Xxxx``.  A piece typed in mixed case that
    already starts with a capital (``Д'Артаньян``) is kept as typed.
    """
    if segment[0].isupper() and not segment.isupper():
        return segment
    return segment[0].upper() + segment[1:].lower()


def _capitalize_word(word: str) -> str:
    return "-".join(_capitalize_segment(seg) for seg in word.split("-"))


def validate_full_name(raw: str) -> FullName:
    """Фамилия, имя и отчество; the patronymic may be absent.

    Allowed: Russian letters (with ё), hyphen, apostrophe and spaces.  Spaces are
    collapsed; the first word is the last name, the second the first name and the
    rest (possibly several words, e.g. «Гейдар оглы») the patronymic.  Each
    hyphen-separated part is capitalised: «иванова анна сергеевна» → «Иванова Анна
    Сергеевна», «римский-корсаков» → «Римский-Корсаков».  Patronymic particles
    оглы, кызы, улы, уулу, гызы are written in lower case.  Typographic
    apostrophes and dashes are normalised to ``'`` and ``-``.  Refused: Latin
    letters, digits, other symbols, a hyphen or apostrophe at the start or end of
    a word or doubled, fewer than two words, more than 100 characters.
    """
    text = _collapse_spaces(raw.translate(_APOSTROPHES).translate(_DASHES))
    if not text:
        raise ValidationError(MSG_NAME_EMPTY)
    if len(text) > MAX_FULL_NAME_LENGTH:
        raise ValidationError(MSG_NAME_TOO_LONG)
    if not _NAME_CHARS.fullmatch(text):
        raise ValidationError(MSG_NAME_CHARS)
    words = text.split(" ")
    if any(not _NAME_WORD.fullmatch(word) for word in words):
        raise ValidationError(MSG_NAME_HYPHEN)
    if len(words) < 2:
        raise ValidationError(MSG_NAME_TOO_SHORT)
    last, first, *rest = words
    middle_words = [_capitalize_word(w) for w in rest]
    for i in range(1, len(rest)):
        if rest[i].lower() in _PATRONYMIC_PARTICLES:
            middle_words[i] = rest[i].lower()
    return FullName(
        last_name=_capitalize_word(last),
        first_name=_capitalize_word(first),
        middle_name=" ".join(middle_words) or None,
    )


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------


def parse_date(raw: str) -> date:
    """A date typed as ``ДД.ММ.ГГГГ``; leading zeros are optional (``5.3.1990``).

    Only dots separate the parts and the year has four digits.  The date must
    exist (``31.02.2024`` is refused with its own message).
    """
    match = _DATE.fullmatch(_prepare(raw))
    if match is None:
        raise ValidationError(MSG_DATE_FORMAT)
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationError(MSG_DATE_NONEXISTENT) from None


def validate_birth_date(raw: str, today: date) -> date:
    """A birth date: not after ``today`` and at most 120 years before it.

    Exactly 120 years ago is accepted, one day earlier is refused.
    """
    born = parse_date(raw)
    if born > today:
        raise ValidationError(MSG_BIRTH_FUTURE)
    if add_years(born, MAX_AGE_YEARS) < today:
        raise ValidationError(MSG_BIRTH_TOO_OLD)
    return born


# ---------------------------------------------------------------------------
# ОМС policy
# ---------------------------------------------------------------------------


def validate_policy_number(raw: str) -> str:
    """The unified ОМС policy number (ЕНП): 16 digits; spaces in the input are ignored."""
    digits = _digits_only(_prepare(raw), " ")
    if digits is None or len(digits) != 16:
        raise ValidationError(MSG_POLICY_NUMBER)
    return digits


def validate_policy_end_date(raw: str, today: date) -> date:
    """The date the policy is valid until: ``today`` or later."""
    end = parse_date(raw)
    if end < today:
        raise ValidationError(MSG_POLICY_EXPIRED)
    return end


# What people type for a policy without an end date (most ОМС policies since 2011).
POLICY_NO_END = "Бессрочный"
_POLICY_NO_END_WORDS = frozenset({"бессрочный", "бессрочно", "бессрочен", "без срока"})


def parse_policy_end(raw: str, today: date) -> date | None:
    """The policy's end date, or ``None`` for a policy without one («Бессрочный»).

    The word is taken in any case, with or without a final dot; anything else
    is a date as :func:`validate_policy_end_date` takes it.
    """
    word = _collapse_spaces(raw).rstrip(".").casefold().replace("ё", "е")
    if word in _POLICY_NO_END_WORDS:
        return None
    return validate_policy_end_date(raw, today)


# ---------------------------------------------------------------------------
# Passport
# ---------------------------------------------------------------------------


def validate_passport_series(raw: str) -> str:
    """Passport series: 4 digits; ``45 08`` is read as ``4508``."""
    digits = _digits_only(_prepare(raw), " ")
    if digits is None or len(digits) != 4:
        raise ValidationError(MSG_PASSPORT_SERIES)
    return digits


def validate_passport_number(raw: str) -> str:
    """Passport number: 6 digits (spaces ignored)."""
    digits = _digits_only(_prepare(raw), " ")
    if digits is None or len(digits) != 6:
        raise ValidationError(MSG_PASSPORT_NUMBER)
    return digits


def validate_passport_issue_date(raw: str, birth_date: date, today: date) -> date:
    """Date of issue: not after ``today`` and not before the 14th birthday.

    For a person born on 29 February the 14th birthday in a non-leap year is
    28 February (see :func:`add_years`).
    """
    issued = parse_date(raw)
    if issued > today:
        raise ValidationError(MSG_ISSUE_FUTURE)
    if issued < add_years(birth_date, PASSPORT_MIN_AGE_YEARS):
        raise ValidationError(MSG_ISSUE_TOO_EARLY)
    return issued


def validate_division_code(raw: str) -> str:
    """Код подразделения as ``NNN-NNN``; ``770001`` and ``770 001`` are accepted too."""
    text = _prepare(raw)
    match = re.fullmatch(r"([0-9]{3})[ -]?([0-9]{3})", text)
    if match is None:
        raise ValidationError(MSG_DIVISION_CODE)
    return f"{match.group(1)}-{match.group(2)}"


def validate_issued_by(raw: str) -> str:
    """Кем выдан: non-empty text up to 200 characters, spaces collapsed."""
    text = _collapse_spaces(raw)
    if not text:
        raise ValidationError(MSG_ISSUED_BY_EMPTY)
    if _CONTROL_CHARS.search(text):
        raise ValidationError(MSG_CONTROL_CHARS)
    if len(text) > MAX_ISSUED_BY_LENGTH:
        raise ValidationError(MSG_ISSUED_BY_TOO_LONG)
    return text


# ---------------------------------------------------------------------------
# ИНН
# ---------------------------------------------------------------------------


def validate_inn(raw: str) -> str:
    """A personal ИНН: 12 digits with both check digits right (spaces ignored).

    A 10-digit ИНН belongs to an organisation and is refused with its own message.
    """
    digits = _digits_only(_prepare(raw), " ")
    if digits is None:
        raise ValidationError(MSG_INN_LENGTH)
    if len(digits) == 10:
        raise ValidationError(MSG_INN_COMPANY)
    if len(digits) != 12:
        raise ValidationError(MSG_INN_LENGTH)
    if stdnum_inn.calc_personal_check_digits(digits) != digits[10:]:
        raise ValidationError(MSG_INN_CHECKSUM)
    return digits


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------


def validate_email(raw: str) -> str:
    """An e-mail address, syntax only (no DNS), normalised and lower-cased.

    Internationalised addresses (``почта@пример.рф``) are accepted; the domain
    is kept in Unicode form.
    """
    text = raw.strip()
    if not text:
        raise ValidationError(MSG_EMAIL)
    try:
        info = email_validator.validate_email(
            text,
            check_deliverability=False,  # syntax only: no DNS look-ups
            strict=True,  # e.g. at most 64 characters before "@"
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
        )
    except email_validator.EmailNotValidError:
        raise ValidationError(MSG_EMAIL) from None
    return info.normalized.lower()


# ---------------------------------------------------------------------------
# Free text
# ---------------------------------------------------------------------------


# A word of an address: letters (with hyphens: «Санкт-Петербург»), three at least.
_ADDRESS_WORD = re.compile(r"[^\W\d_]{3,}(?:-[^\W\d_]+)*")
_ADDRESS_SPLIT = re.compile(r"[\s,;]+")


def validate_address(raw: str) -> str:
    """An address: required, up to 300 characters, spaces and line breaks collapsed.

    It must look like a whole address: at least two words of three letters or
    more (a locality and a street, or a region and a locality; «г.», «ул.», «д.»
    do not count) and a digit (the house). «дом» or «Москва» alone are refused.
    """
    text = _collapse_spaces(raw)
    if not text:
        raise ValidationError(MSG_ADDRESS_EMPTY)
    if _CONTROL_CHARS.search(text):
        raise ValidationError(MSG_CONTROL_CHARS)
    if len(text) > MAX_ADDRESS_LENGTH:
        raise ValidationError(MSG_ADDRESS_TOO_LONG)
    words = [part for part in _ADDRESS_SPLIT.split(text) if _ADDRESS_WORD.search(part)]
    if len(words) < 2 or not _DIGITS.search(text):
        raise ValidationError(MSG_ADDRESS_INCOMPLETE)
    return text


def validate_comment(raw: str) -> str | None:
    """An optional comment up to 1000 characters; ``None`` when empty.

    Only the ends are stripped: line breaks inside are kept.
    """
    text = raw.strip()
    if not text:
        return None
    if _CONTROL_CHARS.search(text):
        raise ValidationError(MSG_CONTROL_CHARS)
    if len(text) > MAX_COMMENT_LENGTH:
        raise ValidationError(MSG_COMMENT_TOO_LONG)
    return text
