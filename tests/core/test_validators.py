"""Tests for services.core.validators.

Check digits (СНИЛС, ИНН) are computed here by implementations written
independently of the code under test.
"""

from __future__ import annotations

import random
from datetime import date

import phonenumbers
import pytest

from services.core.errors import ValidationError
from services.core.validators import (
    MSG_ADDRESS_INCOMPLETE,
    FullName,
    Login,
    add_years,
    format_snils,
    normalize_phone,
    normalize_snils,
    parse_date,
    parse_login,
    parse_policy_end,
    snils_control_number,
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
    validate_policy_end_date,
    validate_policy_number,
)
from services.demo import DEMO_APPLICATIONS

DEMO_ADDRESSES = [values["address"] for values in DEMO_APPLICATIONS.values()]
LONG_ADDRESS = "г. Москва, ул. Тверская, д. 7, " + "А" * 269  # 300 characters

# ---------------------------------------------------------------------------
# Independent reference implementations
# ---------------------------------------------------------------------------


def ref_snils_control(first_nine: str) -> int:
    """Pension Fund rule, written as the published algorithm reads."""
    weights = range(9, 0, -1)
    total = 0
    for weight, digit in zip(weights, first_nine, strict=True):
        total += weight * int(digit)
    while total > 101:
        total -= 101
    if total in (100, 101):
        return 0
    return total


def make_snils(first_nine: str) -> str:
    return first_nine + f"{ref_snils_control(first_nine):02d}"


def ref_inn_digit(digits: str, weights: tuple[int, ...]) -> str:
    total = 0
    for weight, digit in zip(weights, digits, strict=False):
        total += weight * int(digit)
    return str(total % 11 % 10)


def make_inn(first_ten: str) -> str:
    d11 = ref_inn_digit(first_ten, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
    d12 = ref_inn_digit(first_ten + d11, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
    return first_ten + d11 + d12


def _other_digit(d: str) -> str:
    return str((int(d) + 1) % 10)


_rng = random.Random(20240615)
GENERATED_SNILS = [make_snils(f"{_rng.randrange(1_001_999, 1_000_000_000):09d}") for _ in range(25)]
GENERATED_INN = [make_inn(f"{_rng.randrange(10**9, 10**10):010d}") for _ in range(25)]


def _first_prefix_with_sum(predicate: object) -> str:
    assert callable(predicate)
    for n in range(1_001_999, 1_000_000_000, 7919):
        prefix = f"{n:09d}"
        total = sum(int(d) * (9 - i) for i, d in enumerate(prefix))
        if predicate(total):
            return prefix
    raise AssertionError("no prefix found")


# Prefixes hitting each branch of the control-number rule.
SNILS_SUM_100 = _first_prefix_with_sum(lambda s: s == 100)
SNILS_SUM_101 = _first_prefix_with_sum(lambda s: s == 101)
SNILS_SUM_MOD_100 = _first_prefix_with_sum(lambda s: s > 101 and s % 101 == 100)
SNILS_SUM_OVER_101 = _first_prefix_with_sum(lambda s: s > 101 and s % 101 not in (0, 100))
SNILS_SUM_UNDER_100 = _first_prefix_with_sum(lambda s: s < 100)


def test_reference_snils_matches_published_examples() -> None:
    assert make_snils("112233445") == "11223344595"
    assert make_snils("123456789") == "12345678964"


def test_reference_inn_matches_published_example() -> None:
    assert make_inn("5001007322") == "500100732259"


# ---------------------------------------------------------------------------
# СНИЛС
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("112-233-445 95", "11223344595"),
        ("11223344595", "11223344595"),
        ("123-456-789 64", "12345678964"),
        ("123 456 789 64", "12345678964"),
        ("123-456-789-64", "12345678964"),
        ("  123-456-789 64  ", "12345678964"),
        ("123\u00a0456\u00a0789\u00a064", "12345678964"),
        ("123‑456‑789 64", "12345678964"),
        # up to 001-001-998 there is no control number: anything goes
        ("001-001-998 00", "00100199800"),
        ("001-001-998 99", "00100199899"),
        ("000-000-001 57", "00000000157"),
        ("001-000-000 13", "00100000013"),
    ],
)
def test_normalize_snils_valid(raw: str, expected: str) -> None:
    assert normalize_snils(raw) == expected


@pytest.mark.parametrize("snils", GENERATED_SNILS)
def test_normalize_snils_generated(snils: str) -> None:
    assert normalize_snils(snils) == snils
    assert normalize_snils(format_snils(snils)) == snils


@pytest.mark.parametrize(
    "prefix",
    [SNILS_SUM_100, SNILS_SUM_101, SNILS_SUM_MOD_100, SNILS_SUM_OVER_101, SNILS_SUM_UNDER_100],
)
def test_snils_control_number_branches(prefix: str) -> None:
    assert snils_control_number(prefix) == f"{ref_snils_control(prefix):02d}"
    assert normalize_snils(make_snils(prefix)) == make_snils(prefix)


def test_snils_control_number_branch_values() -> None:
    assert snils_control_number(SNILS_SUM_100) == "00"
    assert snils_control_number(SNILS_SUM_101) == "00"
    assert snils_control_number(SNILS_SUM_MOD_100) == "00"


@pytest.mark.parametrize(
    "raw",
    [
        "112-233-445 96",
        "11223344594",
        "123-456-789 65",
        "123-456-789 00",
        "001-001-999 00",  # the first number that has a control number (65)
        "999-999-999 00",
    ],
)
def test_normalize_snils_bad_checksum(raw: str) -> None:
    digits = raw.replace("-", "").replace(" ", "")
    assume_wrong = f"{ref_snils_control(digits[:9]):02d}" != digits[9:]
    assert assume_wrong
    with pytest.raises(ValidationError) as exc:
        normalize_snils(raw)
    assert "контрольное число" in exc.value.message


@pytest.mark.parametrize("snils", GENERATED_SNILS[:10])
def test_normalize_snils_each_control_digit_wrong(snils: str) -> None:
    for pos in (9, 10):
        broken = snils[:pos] + _other_digit(snils[pos]) + snils[pos + 1 :]
        with pytest.raises(ValidationError, match="контрольное число"):
            normalize_snils(broken)


def test_snils_first_checked_number() -> None:
    assert normalize_snils(make_snils("001001999")) == make_snils("001001999")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1234567896",
        "123456789640",
        "123-456-789",
        "123-456-789 6",
        "abc-def-ghi jk",
        "123.456.789 64",
        "123/456/789 64",
        "١٢٣٤٥٦٧٨٩٦٤",  # Arabic-Indic digits
        "１２３４５６７８９６４",  # full-width digits
        "+12345678964",
    ],
)
def test_normalize_snils_bad_shape(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        normalize_snils(raw)
    assert "11 цифр" in exc.value.message
    assert "123-456-789 64" in exc.value.message


def test_format_snils() -> None:
    assert format_snils("11223344595") == "112-233-445 95"
    assert format_snils("12345678964") == "123-456-789 64"


@pytest.mark.parametrize("bad", ["", "1234567896", "123-456-789 64", "1234567896x"])
def test_format_snils_rejects_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        format_snils(bad)


# ---------------------------------------------------------------------------
# Phone
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 999 000-00-01", "+79990000001"),
        ("+79990000001", "+79990000001"),
        ("89990000001", "+79990000001"),
        ("8 (999) 000-00-01", "+79990000001"),
        ("8(999)000-00-01", "+79990000001"),
        ("79990000001", "+79990000001"),
        ("9990000001", "+79990000001"),
        ("8.999.000.00.01", "+79990000001"),
        ("  +7 999 000 00 01  ", "+79990000001"),
        ("+7\u00a0999\u00a0000‑00‑01", "+79990000001"),
        ("+7 (495) 123-45-67", "+74951234567"),
        ("8 812 123-45-67", "+78121234567"),
        ("+7 3412 12-34-56", "+73412123456"),
        ("8 800 555-35-35", "+78005553535"),
        ("+375 29 123-45-67", "+375291234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_phone_valid(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",
        "+7 123 456-78-90",
        "+7 999 000-00-0",
        "+7 999 000-00-011",
        "8-800-FLOWERS",
        "+7 999 000-00-01 доб. 12",
        "+7 999 000-00-01 ext 12",
        "++79990000001",
        "+7 999 000-00-01+",
        "телефон",
        "٨٩٩٩٠٠٠٠٠٠١",
        "1" * 50,
    ],
)
def test_normalize_phone_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        normalize_phone(raw)
    assert "+7 999 000-00-01" in exc.value.message


def test_normalize_phone_other_region() -> None:
    assert normalize_phone("029 123-45-67", region="BY") == "+375291234567"


# ---------------------------------------------------------------------------
# Login
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # phones
        ("+7 999 000-00-01", Login("phone", "+79990000001")),
        ("89990000001", Login("phone", "+79990000001")),
        ("8 (999) 000-00-01", Login("phone", "+79990000001")),
        ("79990000001", Login("phone", "+79990000001")),
        ("8 999 000 00 01", Login("phone", "+79990000001")),
        ("8-999-000-00-01", Login("phone", "+79990000001")),
        ("9990000001", Login("phone", "+79990000001")),
        ("+375 29 123-45-67", Login("phone", "+375291234567")),
        ("+7 701 234 56 78", Login("phone", "+77012345678")),  # Kazakhstan, with "+"
        # e-mails
        ("User@Mail.RU", Login("email", "user@mail.ru")),
        ("  ivanova.anna@yandex.ru ", Login("email", "ivanova.anna@yandex.ru")),
        # СНИЛС
        ("123-456-789 64", Login("snils", "12345678964")),
        ("12345678964", Login("snils", "12345678964")),
        ("112-233-445 95", Login("snils", "11223344595")),
        ("112 233 445 95", Login("snils", "11223344595")),
    ],
)
def test_parse_login(raw: str, expected: Login) -> None:
    assert parse_login(raw) == expected


def _is_russian_phone(digits: str) -> bool:
    number = phonenumbers.parse("+7" + digits[1:], None)
    return bool(phonenumbers.is_valid_number_for_region(number, "RU"))


def _snils_starting_with(first: str, *, phone_valid: bool) -> str:
    """A valid СНИЛС starting with ``first`` that is (or is not) a valid RU phone too."""
    for n in range(100_000):
        snils = make_snils(first + f"{n * 7919 % 100_000_000:08d}")
        if _is_russian_phone(snils) == phone_valid:
            return snils
    raise AssertionError("not found")


@pytest.mark.parametrize("first", ["7", "8"])
def test_login_ambiguous_phone_wins_when_valid_ru_number(first: str) -> None:
    snils = _snils_starting_with(first, phone_valid=True)
    assert parse_login(snils) == Login("phone", "+7" + snils[1:])
    # The same digits typed in the СНИЛС shape are a СНИЛС.
    assert parse_login(format_snils(snils)) == Login("snils", snils)


@pytest.mark.parametrize("first", ["7", "8"])
def test_login_ambiguous_snils_when_not_a_phone(first: str) -> None:
    snils = _snils_starting_with(first, phone_valid=False)
    assert parse_login(snils) == Login("snils", snils)


def test_login_ambiguous_known_vector() -> None:
    # 799-900-000 50 is a valid СНИЛС and +7 999 000-00-50 a valid phone.
    assert make_snils("799900000") == "79990000050"
    assert parse_login("79990000050") == Login("phone", "+79990000050")
    assert parse_login("799-900-000 50") == Login("snils", "79990000050")
    # 71234567890: +7 123… is no Russian number; the СНИЛС checksum decides.
    good = make_snils("712345678")
    assert parse_login(good) == Login("snils", good)


def test_login_kazakh_number_without_plus_is_not_a_phone() -> None:
    # 7 701… is a valid number of Kazakhstan, not of Russia: without "+" it is
    # only accepted if it happens to be a СНИЛС.
    assert make_snils("770123456") != "77012345678"
    with pytest.raises(ValidationError, match="ни на номер телефона, ни на СНИЛС"):
        parse_login("77012345678")
    snils = make_snils("770123456")
    assert parse_login(snils) == Login("snils", snils)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "Не получилось распознать логин"),
        ("ivanov", "Не получилось распознать логин"),
        ("12345", "Не получилось распознать логин"),
        ("123456789012", "Не получилось распознать логин"),
        ("user@", "электронной почты"),
        ("@mail.ru", "электронной почты"),
        ("user@@mail.ru", "электронной почты"),
        ("123-456-789 65", "контрольное число"),
        ("12345678965", "контрольное число"),
        ("+7 123 456-78-90", "+7 999 000-00-01"),
        ("8 (123) 456-78-90", "+7 999 000-00-01"),
        ("71234567890", "ни на номер телефона, ни на СНИЛС"),
    ],
)
def test_parse_login_invalid(raw: str, fragment: str) -> None:
    if raw == "71234567890":
        assert make_snils("712345678") != raw
    with pytest.raises(ValidationError) as exc:
        parse_login(raw)
    assert fragment in exc.value.message


def test_login_is_frozen() -> None:
    login = parse_login("+79990000001")
    with pytest.raises(AttributeError):
        login.value = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@mail.ru", "user@mail.ru"),
        ("  User@Mail.Ru  ", "user@mail.ru"),
        ("IVANOVA.Anna+emk@Yandex.RU", "ivanova.anna+emk@yandex.ru"),
        ("a.b-c_d@sub.domain.example.com", "a.b-c_d@sub.domain.example.com"),
        ("почта@пример.рф", "почта@пример.рф"),
        ("user@XN--E1AFMKFD.XN--P1AI", "user@пример.рф"),
    ],
)
def test_validate_email_valid(raw: str, expected: str) -> None:
    assert validate_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "user",
        "user@",
        "@mail.ru",
        "user@mail",
        "user@@mail.ru",
        "user mail@mail.ru",
        "user@mail..ru",
        ".user@mail.ru",
        "user.@mail.ru",
        "user@localhost",
        "user@-mail.ru",
        "a" * 65 + "@mail.ru",
        '"ivan ivanov"@mail.ru',
        "Иван <ivan@mail.ru>",
        "user@[127.0.0.1]",
        "user@mail.ru, other@mail.ru",
    ],
)
def test_validate_email_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_email(raw)
    assert "name@example.ru" in exc.value.message


# ---------------------------------------------------------------------------
# Full name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Иванова Анна Сергеевна", FullName("Иванова", "Анна", "Сергеевна")),
        ("иванова анна сергеевна", FullName("Иванова", "Анна", "Сергеевна")),
        ("ИВАНОВА АННА СЕРГЕЕВНА", FullName("Иванова", "Анна", "Сергеевна")),
        ("  иванова \t  анна\nсергеевна ", FullName("Иванова", "Анна", "Сергеевна")),
        ("иВАНОВА аННА", FullName("Иванова", "Анна", None)),
        ("Петров Пётр", FullName("Петров", "Пётр", None)),
        ("семёнов артём фёдорович", FullName("Семёнов", "Артём", "Фёдорович")),
        (
            "римский-корсаков николай андреевич",
            FullName("Римский-Корсаков", "Николай", "Андреевич"),
        ),
        ("Салтыков-Щедрин Михаил", FullName("Салтыков-Щедрин", "Михаил", None)),
        ("мамедов эльдар гейдар оглы", FullName("Мамедов", "Эльдар", "Гейдар оглы")),
        ("Алиева Айгуль Рашид Кызы", FullName("Алиева", "Айгуль", "Рашид кызы")),
        ("Д'Артаньян Шарль", FullName("Д'Артаньян", "Шарль", None)),
        ("Д’Артаньян Шарль", FullName("Д'Артаньян", "Шарль", None)),
        ("дем'янов дем'ян", FullName("Дем'янов", "Дем'ян", None)),
        ("Ким Ен Ир Сен", FullName("Ким", "Ен", "Ир Сен")),
        ("Жуков–Сидоров Иван", FullName("Жуков-Сидоров", "Иван", None)),
        ("Ян Ли", FullName("Ян", "Ли", None)),
        ("Ё Ё", FullName("Ё", "Ё", None)),
    ],
)
def test_validate_full_name_valid(raw: str, expected: FullName) -> None:
    assert validate_full_name(raw) == expected


def test_full_name_str() -> None:
    assert str(validate_full_name("иванова анна сергеевна")) == "Иванова Анна Сергеевна"
    assert str(validate_full_name("иванова анна")) == "Иванова Анна"


def test_full_name_length_limit() -> None:
    ok = "А" * 49 + " " + "Б" * 50  # 100 characters
    assert len(ok) == 100
    assert validate_full_name(ok).last_name == "А" + "а" * 48
    with pytest.raises(ValidationError, match="не более 100"):
        validate_full_name(ok + "б")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "фамилию, имя и отчество"),
        ("   ", "фамилию, имя и отчество"),
        ("Иванова", "как минимум фамилия и имя"),
        ("Ivanova Anna", "русские буквы"),
        ("Иванoва Анна", "русские буквы"),  # Latin "o"
        ("Иванова Анна2", "русские буквы"),
        ("Иванова Анна.", "русские буквы"),
        ("Иванова, Анна", "русские буквы"),
        ("Iванова Анна", "русские буквы"),
        ("Іванова Анна", "русские буквы"),  # Ukrainian І
        ("Иванова Анна 🙂", "русские буквы"),
        ("-Иванова Анна", "между буквами"),
        ("Иванова- Анна", "между буквами"),
        ("Иванова Анна-", "между буквами"),
        ("Римский--Корсаков Николай", "между буквами"),
        ("Иванова - Анна", "между буквами"),
        ("'Иванова Анна", "между буквами"),
        ("Иванова Анна'", "между буквами"),
        ("Д'-Артаньян Шарль", "между буквами"),
    ],
)
def test_validate_full_name_invalid(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_full_name(raw)
    assert fragment in exc.value.message


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

TODAY = date(2024, 6, 15)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("05.03.1990", date(1990, 3, 5)),
        ("5.3.1990", date(1990, 3, 5)),
        ("05.3.1990", date(1990, 3, 5)),
        ("5.03.1990", date(1990, 3, 5)),
        (" 31.12.2023 ", date(2023, 12, 31)),
        ("29.02.2024", date(2024, 2, 29)),
        ("29.02.2000", date(2000, 2, 29)),
        ("01.01.0001", date(1, 1, 1)),
    ],
)
def test_parse_date_valid(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "05-03-1990",
        "05/03/1990",
        "05 03 1990",
        "1990-03-05",
        "05.03.90",
        "05.03.19900",
        "005.03.1990",
        "05.03.1990г",
        "пятое марта",
        "05..03.1990",
        "٠٥.٠٣.١٩٩٠",
    ],
)
def test_parse_date_bad_format(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_date(raw)
    assert "ДД.ММ.ГГГГ" in exc.value.message


@pytest.mark.parametrize(
    "raw",
    ["31.02.2024", "30.02.2024", "29.02.2023", "29.02.1900", "31.04.2020", "00.01.2020",
     "01.00.2020", "01.13.2020", "32.01.2020", "01.01.0000"],
)  # fmt: skip
def test_parse_date_nonexistent(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_date(raw)
    assert "Такой даты нет" in exc.value.message
    assert "ДД.ММ.ГГГГ" in exc.value.message


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2000, 2, 29), 14, date(2014, 2, 28)),
        (date(2000, 2, 29), 4, date(2004, 2, 29)),
        (date(2000, 3, 1), 14, date(2014, 3, 1)),
        (date(2024, 2, 29), -120, date(1904, 2, 29)),
        (date(2020, 2, 29), -120, date(1900, 2, 28)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("raw", "today", "expected"),
    [
        ("15.06.2024", TODAY, date(2024, 6, 15)),  # born today
        ("14.06.2024", TODAY, date(2024, 6, 14)),
        ("15.06.1904", TODAY, date(1904, 6, 15)),  # exactly 120 years
        ("16.06.1904", TODAY, date(1904, 6, 16)),
        ("01.03.1990", TODAY, date(1990, 3, 1)),
        ("29.02.2000", TODAY, date(2000, 2, 29)),
        ("29.02.1904", date(2024, 2, 29), date(1904, 2, 29)),  # exactly 120, leap
        ("01.03.1900", date(2020, 2, 29), date(1900, 3, 1)),
    ],
)
def test_validate_birth_date_valid(raw: str, today: date, expected: date) -> None:
    assert validate_birth_date(raw, today) == expected


@pytest.mark.parametrize(
    ("raw", "today", "fragment"),
    [
        ("16.06.2024", TODAY, "в будущем"),  # tomorrow
        ("01.01.2100", TODAY, "в будущем"),
        ("14.06.1904", TODAY, "120"),  # 120 years + 1 day
        ("01.01.1850", TODAY, "120"),
        ("28.02.1904", date(2024, 2, 29), "120"),
        ("28.02.1900", date(2020, 2, 29), "120"),
        ("31.02.2000", TODAY, "Такой даты нет"),
        ("2000-01-01", TODAY, "ДД.ММ.ГГГГ"),
    ],
)
def test_validate_birth_date_invalid(raw: str, today: date, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_birth_date(raw, today)
    assert fragment in exc.value.message


# ---------------------------------------------------------------------------
# ОМС policy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234567890123456", "1234567890123456"),
        ("1234 5678 9012 3456", "1234567890123456"),
        ("  1234  5678 9012 3456 ", "1234567890123456"),
        ("7755 4410 8900 0123", "7755441089000123"),
        ("0000000000000000", "0000000000000000"),
    ],
)
def test_validate_policy_number_valid(raw: str, expected: str) -> None:
    assert validate_policy_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "123456789012345",
        "12345678901234567",
        "1234-5678-9012-3456",
        "ЕНП1234567890123456",
        "12345678901234a6",
        "АБ 123456",
        "１２３４５６７８９０１２３４５６",
    ],
)
def test_validate_policy_number_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_policy_number(raw)
    assert "16 цифр" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15.06.2024", date(2024, 6, 15)),  # today is fine
        ("16.06.2024", date(2024, 6, 16)),
        ("31.12.2099", date(2099, 12, 31)),
    ],
)
def test_validate_policy_end_date_valid(raw: str, expected: date) -> None:
    assert validate_policy_end_date(raw, TODAY) == expected


@pytest.mark.parametrize("raw", ["14.06.2024", "01.01.2020", "15.06.2023"])
def test_validate_policy_end_date_expired(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_policy_end_date(raw, TODAY)
    assert "полис не действует" in exc.value.message


@pytest.mark.parametrize(
    "raw", ["бессрочный", "Бессрочный", " БЕССРОЧНЫЙ. ", "бессрочно", "без срока"]
)
def test_a_person_typing_bessrochny_gives_a_policy_without_an_end_date(raw: str) -> None:
    assert parse_policy_end(raw, TODAY) is None


def test_a_policy_end_date_typed_as_a_date_is_still_checked() -> None:
    assert parse_policy_end("31.12.2099", TODAY) == date(2099, 12, 31)
    with pytest.raises(ValidationError, match="полис не действует"):
        parse_policy_end("14.06.2024", TODAY)
    with pytest.raises(ValidationError, match=r"ДД\.ММ\.ГГГГ"):
        parse_policy_end("бессрочн", TODAY)


def test_validate_policy_end_date_bad_format() -> None:
    with pytest.raises(ValidationError, match=r"ДД\.ММ\.ГГГГ"):
        validate_policy_end_date("2024.06.15", TODAY)


# ---------------------------------------------------------------------------
# Passport
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("4508", "4508"), ("45 08", "4508"), (" 45  08 ", "4508"), ("0000", "0000")],
)
def test_validate_passport_series_valid(raw: str, expected: str) -> None:
    assert validate_passport_series(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "450", "45089", "45-08", "45 08 123456", "АБ", "45O8", "４５０８"]
)
def test_validate_passport_series_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_passport_series(raw)
    assert "4 цифры" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("123456", "123456"), (" 123 456 ", "123456"), ("000001", "000001")],
)
def test_validate_passport_number_valid(raw: str, expected: str) -> None:
    assert validate_passport_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "12345", "1234567", "4508123456", "12345a", "№123456", "12-34-56"]
)
def test_validate_passport_number_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_passport_number(raw)
    assert "6 цифр" in exc.value.message


BIRTH = date(2000, 6, 15)


@pytest.mark.parametrize(
    ("raw", "birth", "today", "expected"),
    [
        ("15.06.2014", BIRTH, TODAY, date(2014, 6, 15)),  # 14th birthday
        ("16.06.2014", BIRTH, TODAY, date(2014, 6, 16)),
        ("15.06.2024", BIRTH, TODAY, date(2024, 6, 15)),  # today
        ("28.02.2022", date(2008, 2, 29), TODAY, date(2022, 2, 28)),  # 29 Feb, non-leap
        ("01.03.2022", date(2008, 2, 29), TODAY, date(2022, 3, 1)),
        ("28.02.2014", date(2000, 2, 29), TODAY, date(2014, 2, 28)),
        ("01.03.2014", date(2000, 3, 1), TODAY, date(2014, 3, 1)),
    ],
)
def test_validate_passport_issue_date_valid(
    raw: str, birth: date, today: date, expected: date
) -> None:
    assert validate_passport_issue_date(raw, birth, today) == expected


@pytest.mark.parametrize(
    ("raw", "birth", "today", "fragment"),
    [
        ("14.06.2014", BIRTH, TODAY, "14-летия"),  # 14th birthday - 1 day
        ("15.06.2000", BIRTH, TODAY, "14-летия"),
        ("01.01.1999", BIRTH, TODAY, "14-летия"),
        ("27.02.2022", date(2008, 2, 29), TODAY, "14-летия"),
        ("27.02.2014", date(2000, 2, 29), TODAY, "14-летия"),
        ("28.02.2014", date(2000, 3, 1), TODAY, "14-летия"),
        ("16.06.2024", BIRTH, TODAY, "в будущем"),  # tomorrow
        ("29.02.2023", BIRTH, TODAY, "Такой даты нет"),
        ("2014-06-15", BIRTH, TODAY, "ДД.ММ.ГГГГ"),
    ],
)
def test_validate_passport_issue_date_invalid(
    raw: str, birth: date, today: date, fragment: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_passport_issue_date(raw, birth, today)
    assert fragment in exc.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("770-001", "770-001"),
        ("770001", "770-001"),
        ("770 001", "770-001"),
        (" 500-123 ", "500-123"),
        ("770‑001", "770-001"),
    ],
)
def test_validate_division_code_valid(raw: str, expected: str) -> None:
    assert validate_division_code(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "77-0001", "7700-01", "77000", "7700011", "770--001", "770_001", "abc-def"]
)
def test_validate_division_code_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_division_code(raw)
    assert "770-001" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ГУ МВД России по г. Москве", "ГУ МВД России по г. Москве"),
        ("  ОУФМС  России\nпо  Московской обл. ", "ОУФМС России по Московской обл."),
        ("Х" * 200, "Х" * 200),
    ],
)
def test_validate_issued_by_valid(raw: str, expected: str) -> None:
    assert validate_issued_by(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("", "кем выдан"), ("  \n ", "кем выдан"), ("Х" * 201, "не более 200"),
     ("МВД\x00", "служебные символы")],
)  # fmt: skip
def test_validate_issued_by_invalid(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_issued_by(raw)
    assert fragment in exc.value.message


# ---------------------------------------------------------------------------
# ИНН
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("inn", ["500100732259", "123456789047", *GENERATED_INN])
def test_validate_inn_valid(inn: str) -> None:
    assert validate_inn(inn) == inn


def test_validate_inn_spaces() -> None:
    assert validate_inn(" 5001 0073 2259 ") == "500100732259"


@pytest.mark.parametrize("inn", ["500100732259", *GENERATED_INN[:10]])
@pytest.mark.parametrize("position", [10, 11])
def test_validate_inn_each_control_digit_wrong(inn: str, position: int) -> None:
    broken = inn[:position] + _other_digit(inn[position]) + inn[position + 1 :]
    with pytest.raises(ValidationError) as exc:
        validate_inn(broken)
    assert "контрольные цифры" in exc.value.message


@pytest.mark.parametrize("inn", ["7707083893", "1234567894", "7736050003"])
def test_validate_inn_company_refused(inn: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_inn(inn)
    assert "организации" in exc.value.message


@pytest.mark.parametrize(
    "raw", ["", "12345678901", "5001007322590", "50010073225a", "500-100-732-259", "ИНН"]
)
def test_validate_inn_bad_length(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_inn(raw)
    assert "12 цифр" in exc.value.message


# ---------------------------------------------------------------------------
# Address and comment
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("г. Москва, ул. Тверская, д. 1", "г. Москва, ул. Тверская, д. 1"),
        ("  г. Москва,\n  ул. Тверская,   д. 1 ", "г. Москва, ул. Тверская, д. 1"),
        (LONG_ADDRESS, LONG_ADDRESS),
        # the demo people's addresses (services.demo)
        *((a, a) for a in DEMO_ADDRESSES),
        ("Тверская обл., с. Берёзовка, д. 12", "Тверская обл., с. Берёзовка, д. 12"),
        ("г.Москва,ул.Тверская,д.7", "г.Москва,ул.Тверская,д.7"),
        ("Москва Тверская 7", "Москва Тверская 7"),
    ],
)
def test_validate_address_valid(raw: str, expected: str) -> None:
    assert validate_address(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("", "Введите адрес"), ("   ", "Введите адрес"), ("А" * 301, "не более 300"),
     ("ул.\x07 Ленина", "служебные символы")],
)  # fmt: skip
def test_validate_address_invalid(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_address(raw)
    assert fragment in exc.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "дом",
        "Москва",
        "г. Москва",  # no street, no house
        "ул. Тверская, д. 7",  # no locality
        "г. Москва, ул. Тверская",  # no house number
        "дом 5 кв 3",
        "12345",
    ],
)
def test_a_person_typing_a_partial_address_is_asked_for_the_whole_one(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_address(raw)
    assert exc.value.message == MSG_ADDRESS_INCOMPLETE
    assert "населённый пункт, улицу и номер дома" in exc.value.message
    assert "например: г. Москва, ул. Тверская, д. 1, кв. 5" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("   \n ", None),
        ("  Позвоните после 18:00 ", "Позвоните после 18:00"),
        ("Строка 1\nСтрока 2", "Строка 1\nСтрока 2"),
        ("к" * 1000, "к" * 1000),
    ],
)
def test_validate_comment_valid(raw: str, expected: str | None) -> None:
    assert validate_comment(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("к" * 1001, "не более 1000"), ("текст\x1b[31m", "служебные символы")],
)
def test_validate_comment_invalid(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_comment(raw)
    assert fragment in exc.value.message


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: normalize_snils("1"),
        lambda: normalize_snils("123-456-789 65"),
        lambda: normalize_phone("1"),
        lambda: parse_login("?"),
        lambda: validate_full_name("Ivan Ivanov"),
        lambda: parse_date("x"),
        lambda: validate_inn("1"),
        lambda: validate_email("x"),
        lambda: validate_policy_number("1"),
        lambda: validate_passport_series("1"),
        lambda: validate_division_code("1"),
    ],
)
def test_messages_are_short_russian_sentences(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValidationError) as exc:
        call()
    message = exc.value.message
    assert message == str(exc.value)
    assert 10 < len(message) <= 250
    assert message.rstrip()[-1] in ".!"
    assert any("а" <= ch <= "я" for ch in message.lower())
