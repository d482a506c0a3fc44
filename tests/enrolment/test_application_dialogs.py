"""«Заявление на ЭМК»: the form, the review, the submission — as a person uses the bot."""

from __future__ import annotations

import re

import pytest

from services.core.consent import consent_text
from services.demo import (
    KUZNETSOV_APPLICATION,
    PETROV_APPLICATION,
    SMIRNOVA_APPLICATION,
)
from services.enrolment.application import FIELDS
from tests.support.application_flow import (
    answer,
    apply,
    field,
    fill_form,
    signed_in,
    submit,
    upload,
    upload_documents,
)
from tests.support.bot import PASSWORD, PETROV_PHONE, App, png_bytes
from tgsandbox import SandboxUser

MENU = [
    "Записаться к врачу",
    "Мои записи",
    "Заявление на ЭМК",
    "Статус заявки",
    "История входов",
    "Журнал действий",
    "Доступ для близких",
    "Карты близких",
    "Сменить пароль",
    "Выйти",
]
# Once the card is open, the record comes first.
MENU_WITH_RECORD = ["Моя медкарта", *MENU[:4], "Спросить врача", "Мои вопросы", *MENU[4:]]


def review_value(user: SandboxUser, label: str) -> str:
    """The value a line of the review shows for `label`."""
    for line in user.last.text.splitlines():
        if line.startswith(f"{label}: "):
            return line[len(label) + 2 :]
    raise AssertionError(f"no line for {label!r} in the review:\n{user.last.text}")


async def test_petrov_from_start_to_an_opened_card(app: App) -> None:
    petrov = app.user(2002, PETROV_PHONE, "Сергей")
    await petrov.send("/start")
    await petrov.press("Войти через Госуслуги")
    await petrov.send(PETROV_PHONE)
    await petrov.send(PASSWORD)
    await petrov.press("Поделиться номером")
    await petrov.send(app.last_sms_code())
    assert petrov.last.buttons == MENU

    await petrov.press("Заявление на ЭМК")
    assert "шаг 1 из 18" in petrov.last.text
    assert "Фамилия, имя, отчество" in petrov.last.text
    assert "Пропустить" not in petrov.last.buttons
    for spec in FIELDS:
        question = petrov.last.text
        assert spec.question in question or spec.kind == "consent"
        value = PETROV_APPLICATION.get(spec.name, "")
        if spec.kind == "choice":
            assert [label for _key, label in spec.choices] == petrov.last.buttons[:2]
        if spec.optional:
            assert "Пропустить" in petrov.last.buttons
        if spec.name == "phone":
            assert "Использовать номер учётной записи +7 999 000-00-02" in petrov.last.buttons
        if spec.kind == "consent":
            assert consent_text() in question
            assert len(question) <= 4096
        await answer(petrov, spec, value)

    review = petrov.last.text
    assert "Проверьте заявление на ЭМК" in review
    assert review_value(petrov, "Фамилия, имя, отчество") == "Петров Сергей Иванович"
    assert review_value(petrov, "СНИЛС") == "156-236-488 77"
    assert review_value(petrov, "Номер полиса ОМС") == "7750 1983 4027 1955"
    assert review_value(petrov, "Контактный телефон") == "+7 999 000-00-02"
    assert review_value(petrov, "Тип обращения") == "Новая карта"
    assert review_value(petrov, "Комментарий") == "Не указано"
    assert review_value(petrov, "Согласие на обработку данных").startswith("Дано 26.11.2026")
    assert "— Паспорт (страница с фото) — не загружен" in review
    for spec in FIELDS:
        assert f"Изменить: {spec.label}" in petrov.last.buttons
    assert {"Документы", "Отправить", "В меню"} <= set(petrov.last.buttons)

    await upload_documents(petrov)
    assert "✅ Паспорт (страница с фото) — PNG" in petrov.last.text
    assert "Если всё верно, нажмите «Отправить»." in petrov.last.text
    number = await submit(app, petrov)
    assert re.fullmatch(r"ЭМК-2026-\d{6}", number)
    await petrov.press("Статус заявки")
    status = petrov.last
    assert "Статус: Заявка принята" in status.text
    assert "Заявок в очереди перед вашей: 0." in status.text
    assert "Примерное время ожидания: около 1 мин." in status.text

    await app.process_applications()
    # the open status window shows the decision by itself
    assert petrov.last.message_id == status.message_id
    assert "Статус: Карта открыта" in petrov.last.text
    assert "Электронная медицинская карта открыта." in petrov.last.text

    assert await app.deliver_pushes() == 3
    pushes = petrov.bot_messages[-3:]
    assert f"Заявка № {number} принята" in pushes[0].text
    assert f"Заявка № {number} в работе" in pushes[1].text
    assert "электронная медицинская карта открыта" in pushes[2].text
    assert all(m.buttons == ["Статус заявки"] for m in pushes)
    await petrov.press("Статус заявки", message=pushes[0])
    assert petrov.last.message_id > pushes[-1].message_id
    text = petrov.last.text
    assert "Статус: Карта открыта" in text
    assert re.search(r"26\.11\.2026 12:00 — Заявка принята\n.*— В работе\n.*— Карта открыта", text)
    await petrov.press("В меню")
    assert petrov.last.buttons == MENU_WITH_RECORD


# A wrong value for every field, what the bot answers, and the right value.
BAD_VALUES = [
    ("full_name", "Петров", "Нужны как минимум фамилия и имя"),
    ("full_name", "Petrov Sergey", "только русские буквы"),
    ("birth_date", "14/07/1985", "в формате ДД.ММ.ГГГГ"),
    ("birth_date", "31.02.1985", "Такой даты нет в календаре"),
    ("sex", "мужчина", "Выберите один из вариантов: «Мужской» или «Женский»."),
    ("snils", "156-236-488 78", "не сходится контрольное число"),
    ("policy_number", "7750 1983", "состоит из 16 цифр"),
    ("policy_end", "31.12.2020", "полис не действует"),
    ("passport_series", "45", "4 цифры"),
    ("passport_number", "12345", "6 цифр"),
    ("passport_issue_date", "25.07.1995", "не раньше 14-летия"),
    ("passport_division_code", "77-001", "6 цифр"),
    ("passport_issued_by", "О" * 201, "не более 200 символов"),
    ("inn", "7712345678", "ИНН организации"),
    ("address", "а" * 301, "Адрес слишком длинный"),
    ("address", "дом", "Укажите адрес полностью: населённый пункт, улицу и номер дома"),
    ("phone", "12345", "Номер телефона указан неверно"),
    ("email", "sergey.petrov@", "Адрес электронной почты указан неверно"),
    ("kind", "старая карта", "Выберите один из вариантов: «Новая карта» или «Обновление данных»."),
    ("comment", "к" * 1001, "Сообщение слишком длинное"),
    ("comment", "Звонить\x07 после 18", "служебные символы"),
]


async def test_every_field_refuses_a_wrong_value_and_keeps_the_answers(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    values = dict(PETROV_APPLICATION, comment="Звонить после 18:00")
    bad = {}
    for name, value, message in BAD_VALUES:
        bad.setdefault(name, []).append((value, message))
    for spec in FIELDS:
        for value, message in bad.get(spec.name, []):
            await petrov.send(value)
            text = petrov.last.text
            assert "⚠️" in text and message in text.split("⚠️", 1)[1], (spec.name, text)
            # the same question again
            assert spec.label in text and spec.question in text, (spec.name, text)
        if spec.kind == "consent":
            await petrov.send("Согласен")
            assert "воспользуйтесь кнопками" in petrov.last.text
            assert "Даю согласие" in petrov.last.buttons
        await answer(petrov, spec, values.get(spec.name, ""))

    # every answer given before a wrong one is still there
    assert "Проверьте заявление" in petrov.last.text
    assert review_value(petrov, "Фамилия, имя, отчество") == "Петров Сергей Иванович"
    assert review_value(petrov, "Дата рождения") == "14.07.1985"
    assert review_value(petrov, "Пол") == "Мужской"
    assert review_value(petrov, "СНИЛС") == "156-236-488 77"
    assert review_value(petrov, "Полис ОМС действует до") == "31.12.2045"
    assert review_value(petrov, "Дата выдачи паспорта") == "25.07.2005"
    assert review_value(petrov, "ИНН") == "771234567859"
    assert review_value(petrov, "Адрес регистрации") == PETROV_APPLICATION["address"]
    assert review_value(petrov, "Электронная почта") == "sergey.petrov@example.ru"
    assert review_value(petrov, "Комментарий") == "Звонить после 18:00"
    assert "Не заполнено" not in petrov.last.text


async def test_a_file_or_sticker_where_text_is_asked(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await petrov.send("Петров Сергей Иванович")
    await petrov.send_sticker()
    assert "Здесь нужен ответ текстом" in petrov.last.text
    assert "Дата рождения" in petrov.last.text
    await petrov.send_photo(png_bytes())
    assert "Здесь нужен ответ текстом" in petrov.last.text
    await petrov.send("/foo")
    assert "Такой команды нет" in petrov.last.text
    await petrov.send("14.07.1985")
    assert "Укажите ваш пол." in petrov.last.text
    # a choice answered by text is taken too
    await petrov.send("мужской")
    assert "СНИЛС" in petrov.last.text and "шаг 4 из 18" in petrov.last.text


async def test_skipping_the_optional_fields(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    values = dict(PETROV_APPLICATION, inn="", email="", comment="")
    await fill_form(petrov, values, stop="inn")
    assert "Пропустить" in petrov.last.buttons
    await petrov.press("Пропустить")
    assert "Адрес регистрации" in petrov.last.text
    assert "Пропустить" not in petrov.last.buttons
    await fill_form(petrov, values, start="address")
    assert review_value(petrov, "ИНН") == "Не указано"
    assert review_value(petrov, "Электронная почта") == "Не указано"
    assert review_value(petrov, "Комментарий") == "Не указано"
    assert "Не заполнены поля" not in petrov.last.text
    # a skipped field can be given later
    await petrov.press("Изменить: ИНН")
    assert "Сейчас указано: Не указано" in petrov.last.text
    await petrov.send("771234567859")
    assert review_value(petrov, "ИНН") == "771234567859"


async def test_the_phone_of_the_account_by_a_button(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="phone")
    await petrov.press("Использовать номер учётной записи")
    assert "Электронная почта" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="email")
    assert review_value(petrov, "Контактный телефон") == "+7 999 000-00-02"


async def test_back_to_the_previous_question(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="sex")
    await petrov.press("Назад")
    assert "Дата рождения" in petrov.last.text
    assert "Сейчас указано: 14.07.1985" in petrov.last.text
    await petrov.send("15.07.1985")
    # on to the first question not answered yet
    assert "Укажите ваш пол." in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="sex")
    assert review_value(petrov, "Дата рождения") == "15.07.1985"


async def test_editing_a_value_from_the_review_returns_to_the_review(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await petrov.press("Изменить: СНИЛС")
    assert "Введите СНИЛС" in petrov.last.text
    assert "Сейчас указано: 156-236-488 77" in petrov.last.text
    assert "К заявлению" in petrov.last.buttons and "Назад" not in petrov.last.buttons
    await petrov.send("123")
    assert "СНИЛС состоит из 11 цифр" in petrov.last.text
    await petrov.send("112-233-445 95")
    # straight back to the review, not through the rest of the form
    assert "Проверьте заявление" in petrov.last.text
    assert review_value(petrov, "СНИЛС") == "112-233-445 95"
    assert review_value(petrov, "Номер полиса ОМС") == "7750 1983 4027 1955"

    await petrov.press("Изменить: Пол")
    await petrov.press("Женский")
    assert review_value(petrov, "Пол") == "Женский"

    # «К заявлению» leaves the value as it was
    await petrov.press("Изменить: Адрес регистрации")
    await petrov.press("К заявлению")
    assert review_value(petrov, "Адрес регистрации") == PETROV_APPLICATION["address"]

    # the consent can be read and given again
    await petrov.press("Изменить: Согласие на обработку данных")
    assert consent_text() in petrov.last.text
    await petrov.press("Даю согласие")
    assert "Проверьте заявление" in petrov.last.text


async def test_a_new_birth_date_that_voids_the_issue_date_asks_for_it_again(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await petrov.press("Изменить: Дата рождения")
    await petrov.send("14.07.1995")
    text = petrov.last.text
    assert "дата выдачи паспорта приходится раньше 14-летия" in text
    assert "Введите дату выдачи паспорта" in text
    await petrov.send("20.07.2015")
    assert "Проверьте заявление" in petrov.last.text
    assert review_value(petrov, "Дата рождения") == "14.07.1995"
    assert review_value(petrov, "Дата выдачи паспорта") == "20.07.2015"


async def test_leaving_and_coming_back_continues_the_draft(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="snils")
    await petrov.send("/menu")
    assert petrov.last.buttons == MENU
    await petrov.press("Заявление на ЭМК")
    assert "шаг 4 из 18" in petrov.last.text and "Введите СНИЛС" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="snils", stop="email")
    await petrov.press("В меню")
    assert petrov.last.buttons == MENU
    await petrov.press("Заявление на ЭМК")
    assert "Электронная почта" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="email")
    await petrov.press("В меню")
    # a complete draft opens at the review
    await petrov.press("Заявление на ЭМК")
    assert "Проверьте заявление" in petrov.last.text
    assert review_value(petrov, "СНИЛС") == "156-236-488 77"
    assert review_value(petrov, "Электронная почта") == "sergey.petrov@example.ru"


async def _restart_in_the_middle_of_the_form(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="passport_series")
    await app.restart()
    await fill_form(petrov, PETROV_APPLICATION, start="passport_series", stop="phone")
    await app.restart()
    await fill_form(petrov, PETROV_APPLICATION, start="phone")
    await petrov.press("Документы")
    await upload(petrov, "Паспорт", png_bytes(color="navy"), "паспорт.png")
    await app.restart()
    await petrov.press("Полис ОМС")
    await petrov.send_document(png_bytes(color="green"), "полис.png")
    await petrov.press("СНИЛС")
    await petrov.send_document(png_bytes(color="maroon"), "снилс.png")
    await petrov.press("Готово")
    await petrov.press("Отправить")
    await app.restart()
    await petrov.send(app.last_sms_code())
    assert "Заявка принята" in petrov.last.text
    await app.restart()
    await petrov.press("Статус заявки")
    assert "Статус: Заявка принята" in petrov.last.text


async def test_restart_in_the_middle_of_the_form(app: App) -> None:
    await _restart_in_the_middle_of_the_form(app)


@pytest.mark.redis
async def test_restart_in_the_middle_of_the_form_with_redis(redis_app: App) -> None:
    await _restart_in_the_middle_of_the_form(redis_app)


@pytest.mark.postgres
async def test_the_whole_application_on_postgres(pg_app: App) -> None:
    petrov = await signed_in(pg_app)
    await apply(pg_app, petrov, PETROV_APPLICATION)
    await petrov.press("Статус заявки")
    await pg_app.process_applications()
    assert "Статус: Карта открыта" in petrov.last.text


async def test_submitting_with_documents_missing_lists_what_is_missing(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    assert "Не загружены документы: Паспорт (страница с фото), Полис ОМС, СНИЛС." in (
        petrov.last.text
    )
    await upload_documents(petrov, ("Паспорт",))
    await petrov.press("Отправить")
    assert "⚠️ Не хватает документов: полис ОМС, СНИЛС." in petrov.last.text
    assert "Проверьте заявление" in petrov.last.text
    assert not app.sms.sent[1:]  # only the sign-in code: no code for the submission
    await upload_documents(petrov, ("Полис ОМС", "СНИЛС"))
    await submit(app, petrov)


async def test_a_cancelled_or_wrong_code_sends_nothing(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await upload_documents(petrov)
    await petrov.press("Отправить")
    code = app.last_sms_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await petrov.send(wrong)
    assert "Неверный код. Осталось попыток: 4." in petrov.last.text
    await petrov.press("Отмена")
    assert "Проверьте заявление" in petrov.last.text
    await petrov.press("В меню")
    await petrov.press("Статус заявки")
    assert "Статус: Черновик" in petrov.last.text
    assert "Продолжить заявление" in petrov.last.buttons
    await petrov.press("Продолжить заявление")
    assert "Проверьте заявление" in petrov.last.text
    app.clock.advance(seconds=61)  # the code's resend cooldown
    await submit(app, petrov)


async def test_cancel_the_code_and_send_again_at_once(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await upload_documents(petrov)
    await petrov.press("Отправить")
    code = app.last_sms_code()
    sms = len(app.sms.sent)
    await petrov.press("Отмена")
    await petrov.press("Отправить")
    # no new SMS yet: the code from the last one still stands, and the window says so
    assert len(app.sms.sent) == sms
    assert "SMS на номер +7 *** ***-**-02" in petrov.last.text
    assert "Пока введите код из последнего сообщения" in petrov.last.text
    await petrov.send(code)
    assert "Заявка принята" in petrov.last.text


async def test_smirnova_corrects_the_snils_and_resubmits(app: App) -> None:
    smirnova = await signed_in(app, "+79990000003")
    number = await apply(app, smirnova, SMIRNOVA_APPLICATION)
    await app.process_applications()
    await app.deliver_pushes()
    push = smirnova.last
    assert f"По заявке № {number} требуются исправления" in push.text
    assert "СНИЛС не совпадает со сведениями государственного реестра" in push.text
    await smirnova.press("Статус заявки")
    text = smirnova.last.text
    assert "Статус: Требуются исправления" in text
    assert "Что нужно исправить:\n• СНИЛС не совпадает" in text
    assert text.count("СНИЛС не совпадает") == 1
    assert {"Исправить заявку", "Добавить документ", "Обновить", "В меню"} <= set(
        smirnova.last.buttons
    )

    # a better scan of the СНИЛС, from the status screen, back to the status screen
    await smirnova.press("Добавить документ")
    await upload(smirnova, "СНИЛС", png_bytes((1200, 900), "purple"), "снилс-2.png")
    assert "принят" in smirnova.last.text
    await smirnova.press("Готово")
    assert "Статус: Требуются исправления" in smirnova.last.text

    # «Заявление на ЭМК» leads to the same application, not a new one
    await smirnova.press("В меню")
    await smirnova.press("Заявление на ЭМК")
    assert "требуются исправления" in smirnova.last.text.lower()
    assert "новое заявление подавать не нужно" in smirnova.last.text
    await smirnova.press("Исправить заявку")
    review = smirnova.last.text
    assert f"Заявка № {number}" in review
    assert "Что нужно исправить:\n• СНИЛС не совпадает" in review
    await smirnova.press("Изменить: СНИЛС")
    await smirnova.send("412-789-035 86")
    assert review_value(smirnova, "СНИЛС") == "412-789-035 86"
    assert review_value(smirnova, "Фамилия, имя, отчество") == "Смирнова Ольга Петровна"

    # resubmitted with a new code
    assert await submit(app, smirnova) == number
    await smirnova.press("Статус заявки")
    assert "Статус: Заявка принята" in smirnova.last.text
    await app.process_applications()
    assert "Статус: Карта открыта" in smirnova.last.text
    history = smirnova.last.text.split("История (время московское):")[1]
    assert "   • СНИЛС не совпадает" in history  # why it came back, kept in the history
    changes = [line for line in history.strip().splitlines() if re.match(r"\d\d\.", line)]
    assert [line.split(" — ")[1] for line in changes] == [
        "Заявка принята",
        "В работе",
        "Требуются исправления",
        "Заявка принята",
        "В работе",
        "Карта открыта",
    ]
    await app.deliver_pushes()
    assert "электронная медицинская карта открыта" in smirnova.last.text


async def test_kuznetsov_is_refused_with_the_reason(app: App) -> None:
    kuznetsov = await signed_in(app, "+79990000004")
    number = await apply(app, kuznetsov, KUZNETSOV_APPLICATION)
    await kuznetsov.press("Статус заявки")
    await app.process_applications()
    text = kuznetsov.last.text
    assert "Статус: Отказано" in text
    assert "Причина отказа:\n• По сведениям государственного реестра действует ограничение" in text
    assert "Исправить заявку" not in kuznetsov.last.buttons
    await app.deliver_pushes()
    assert f"По заявке № {number} отказано." in kuznetsov.last.text
    assert "законный представитель" in kuznetsov.last.text


async def test_the_open_status_window_updates_itself(app: App) -> None:
    petrov = await signed_in(app)
    await apply(app, petrov, PETROV_APPLICATION)
    await petrov.press("Статус заявки")
    window = petrov.last
    assert "Статус: Заявка принята" in window.text
    # the processor decides; no push is delivered yet, nobody presses anything
    await app.process_applications()
    assert petrov.last.message_id == window.message_id
    assert petrov.last.edited
    assert "Статус: Карта открыта" in petrov.last.text
    assert "Заявок в очереди" not in petrov.last.text
    await petrov.press("Обновить")
    assert "Статус: Карта открыта" in petrov.last.text


async def test_a_second_application_is_refused_while_one_is_in_progress(app: App) -> None:
    petrov = await signed_in(app)
    number = await apply(app, petrov, PETROV_APPLICATION)
    await petrov.press("В меню")
    await petrov.press("Заявление на ЭМК")
    text = petrov.last.text
    assert "Ваше заявление уже отправлено на проверку" in text
    assert f"Заявка № {number}" in text and "Статус: Заявка принята" in text
    assert "Заявление на ЭМК" not in petrov.last.buttons
    # the status screen's own button and the push lead to the same one
    await petrov.press("В меню")
    await petrov.press("Статус заявки")
    assert f"Заявка № {number}" in petrov.last.text


async def test_no_application_yet(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Статус заявки")
    assert "У вас пока нет заявления" in petrov.last.text
    assert petrov.last.buttons == ["Заявление на ЭМК", "В меню"]
    await petrov.press("Заявление на ЭМК")
    assert "шаг 1 из 18" in petrov.last.text


async def test_a_stale_session_on_the_review_asks_to_sign_in_and_keeps_the_draft(
    app: App,
) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    app.clock.advance(minutes=31)
    await petrov.press("Отправить")
    assert "Сеанс завершён из-за бездействия" in "\n".join(petrov.bot_texts()[-2:])
    assert "Введите логин" in petrov.last.text
    await app.sign_in(petrov, login=PETROV_PHONE)
    await petrov.press("Заявление на ЭМК")
    assert "Проверьте заявление" in petrov.last.text
    assert review_value(petrov, "Фамилия, имя, отчество") == "Петров Сергей Иванович"
    assert review_value(petrov, "Адрес регистрации") == PETROV_APPLICATION["address"]


async def test_the_push_button_asks_to_sign_in_when_signed_out(app: App) -> None:
    petrov = await signed_in(app)
    await apply(app, petrov, PETROV_APPLICATION)
    await petrov.send("/logout")
    await app.process_applications()
    await app.deliver_pushes()
    await petrov.press("Статус заявки")
    assert "Чтобы посмотреть статус заявки, войдите в учётную запись." in petrov.alerts
    assert "Введите логин" in petrov.last.text
    await app.sign_in(petrov, login=PETROV_PHONE)
    await petrov.press("Статус заявки")
    assert "Статус: Карта открыта" in petrov.last.text


async def test_long_texts_fit_in_a_message(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    paragraphs = [consent_text()] + [f"{n}. " + "Текст согласия. " * 60 for n in range(7, 12)]
    long_consent = "\n\n".join(paragraphs)
    assert len(long_consent) > 4096
    monkeypatch.setattr("services.enrolment.application.consent_text", lambda: long_consent)
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    values = dict(
        PETROV_APPLICATION,
        comment="Комментарий " * 83,  # 996 characters
        address="г. Москва, ул. Тверская, " + "д. 7, " * 45,
        passport_issued_by="ОВД " * 50,
    )
    await fill_form(petrov, values, stop="consent")
    pages: list[str] = []
    assert "Страница 1 из" in petrov.last.text
    assert "Даю согласие" not in petrov.last.buttons
    while "Следующая страница" in petrov.last.buttons:
        pages.append(petrov.last.text)
        await petrov.press("Следующая страница")
    pages.append(petrov.last.text)
    assert len(pages) >= 2
    shown = "".join(pages)
    for paragraph in paragraphs:
        assert paragraph.strip()[:200] in shown
    assert all(len(page) <= 4096 for page in pages)
    await petrov.press("Даю согласие")
    review = petrov.last.text
    assert "Проверьте заявление" in review and len(review) <= 4096
    assert review_value(petrov, "Комментарий").endswith("…")
    await petrov.press("Изменить: Комментарий")
    assert "Комментарий " * 80 in petrov.last.text  # the whole value while editing it


async def test_text_on_the_review_gets_a_hint(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await petrov.send("Отправить")
    assert "воспользуйтесь кнопками" in petrov.last.text
    assert "Проверьте заявление" in petrov.last.text


async def test_every_message_of_the_journey_is_russian(app: App) -> None:
    petrov = await signed_in(app)
    await apply(app, petrov, PETROV_APPLICATION)
    await petrov.press("Статус заявки")
    await app.process_applications()
    await app.deliver_pushes()
    for text in petrov.bot_texts():
        letters = re.findall(r"[A-Za-zА-Яа-яЁё]", text)
        latin = [ch for ch in letters if ch.isascii()]
        # Latin letters only in values the person typed (the e-mail address)
        assert len(latin) <= len("sergeypetrovexampleru"), text


def _field_name(label: str) -> str:
    return next(spec.name for spec in FIELDS if spec.label == label)


def test_bad_values_cover_every_text_field() -> None:
    covered = {name for name, _value, _message in BAD_VALUES}
    assert covered == {spec.name for spec in FIELDS if spec.kind != "consent"}
    assert field("phone").label == "Контактный телефон"
    assert _field_name("СНИЛС") == "snils"


# -- what a first-time user ran into -------------------------------------------------


async def test_going_back_to_a_given_answer_and_on_keeps_it(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="phone")
    await petrov.press("Назад")
    await petrov.press("Назад")
    assert "ИНН" in petrov.last.text
    assert "Сейчас указано: 771234567859" in petrov.last.text
    # no «Пропустить» that would erase the answer: «Далее» keeps it
    assert "Пропустить" not in petrov.last.buttons
    await petrov.press("Далее")
    # the next question, not the first unanswered one
    assert "Адрес регистрации" in petrov.last.text
    assert f"Сейчас указано: {PETROV_APPLICATION['address']}" in petrov.last.text
    await petrov.press("Далее")
    assert "Контактный телефон" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="phone")
    assert review_value(petrov, "ИНН") == "771234567859"
    assert review_value(petrov, "Адрес регистрации") == PETROV_APPLICATION["address"]


async def test_a_stale_skip_on_a_given_answer_keeps_it_and_goes_to_the_next_question(
    app: App,
) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="inn")
    # «Пропустить» as an older copy of the question had it (another device, a slow chat)
    skip = petrov.last.button("Пропустить")["callback_data"]
    await petrov.send(PETROV_APPLICATION["inn"])
    await fill_form(petrov, PETROV_APPLICATION, start="address", stop="phone")
    await petrov.press("Назад")
    await petrov.press("Назад")
    await app.sandbox.press_callback(petrov.id, petrov.last.message_id, skip)
    await app.settle()
    assert "Адрес регистрации" in petrov.last.text
    await petrov.press("Далее")
    await fill_form(petrov, PETROV_APPLICATION, start="phone")
    assert review_value(petrov, "ИНН") == "771234567859"


async def test_removing_an_optional_answer_with_ne_ukazyvat(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="address")
    await petrov.press("Назад")
    await petrov.press("Не указывать")
    assert "Адрес регистрации" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="address")
    assert review_value(petrov, "ИНН") == "Не указано"
    # from the review too: the value goes, the review comes back
    await petrov.press("Изменить: Электронная почта")
    await petrov.press("Не указывать")
    assert review_value(petrov, "Электронная почта") == "Не указано"


async def test_a_partial_address_is_refused_with_an_example(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="address")
    for partial in ("дом", "г. Москва", "ул. Тверская, д. 7"):
        await petrov.send(partial)
        text = petrov.last.text
        assert "Адрес регистрации" in text
        assert (
            "⚠️ Укажите адрес полностью: населённый пункт, улицу и номер дома, например: "
            "г. Москва, ул. Тверская, д. 1, кв. 5."
        ) in text
    await petrov.send(PETROV_APPLICATION["address"])
    assert "Контактный телефон" in petrov.last.text


async def test_a_policy_without_an_end_date_by_the_button_opens_the_card(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="policy_end")
    assert "Полис ОМС действует до" in petrov.last.text
    assert "нажмите «Бессрочный»" in petrov.last.text
    await petrov.press("Бессрочный")
    assert "Серия паспорта" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="passport_series")
    assert review_value(petrov, "Полис ОМС действует до") == "Бессрочный"
    assert "Не заполнено" not in petrov.last.text
    await upload_documents(petrov)
    await submit(app, petrov)
    await petrov.press("Статус заявки")
    await app.process_applications()
    assert "Статус: Карта открыта" in petrov.last.text


async def test_a_policy_without_an_end_date_typed_as_a_word(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="policy_end")
    await petrov.send("бессрочный")
    assert "Серия паспорта" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="passport_series")
    assert review_value(petrov, "Полис ОМС действует до") == "Бессрочный"
    # and a date again later
    await petrov.press("Изменить: Полис ОМС действует до")
    assert "Сейчас указано: Бессрочный" in petrov.last.text
    await petrov.send("31.12.2045")
    assert review_value(petrov, "Полис ОМС действует до") == "31.12.2045"


async def test_what_the_account_knows_is_offered_at_its_questions(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    assert "Использовать: Петров Сергей Иванович" in petrov.last.buttons
    await petrov.press("Использовать: Петров Сергей Иванович")
    assert "Дата рождения" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="birth_date", stop="snils")
    assert "Использовать: 156-236-488 77" in petrov.last.buttons
    await petrov.press("Использовать: 156-236-488 77")
    assert "Номер полиса ОМС" in petrov.last.text
    await fill_form(petrov, PETROV_APPLICATION, start="policy_number", stop="phone")
    await petrov.press("Использовать номер учётной записи +7 999 000-00-02")
    assert "Использовать: sergey.petrov@example.ru" in petrov.last.buttons
    # another value can still be typed
    await petrov.send("s.petrov@example.ru")
    await fill_form(petrov, PETROV_APPLICATION, start="kind")
    assert review_value(petrov, "Фамилия, имя, отчество") == "Петров Сергей Иванович"
    assert review_value(petrov, "СНИЛС") == "156-236-488 77"
    assert review_value(petrov, "Контактный телефон") == "+7 999 000-00-02"
    assert review_value(petrov, "Электронная почта") == "s.petrov@example.ru"
    # the offer stays while another value is the answer, and is gone once it is the answer
    await petrov.press("Изменить: Электронная почта")
    assert "Использовать: sergey.petrov@example.ru" in petrov.last.buttons
    await petrov.press("К заявлению")
    await petrov.press("Изменить: СНИЛС")
    assert not any(b.startswith("Использовать") for b in petrov.last.buttons)


async def test_after_the_card_is_open_the_menu_says_so_and_no_blank_form_starts(
    app: App,
) -> None:
    petrov = await signed_in(app)
    assert "Электронная медицинская карта открыта" not in petrov.last.text
    await apply(app, petrov, PETROV_APPLICATION)
    await app.process_applications()
    await petrov.send("/menu")
    assert "Главное меню" in petrov.last.text
    assert "Электронная медицинская карта открыта." in petrov.last.text
    await petrov.press("Заявление на ЭМК")
    text = petrov.last.text
    assert "Электронная медицинская карта уже открыта. Новое заявление подавать не нужно." in text
    assert "Статус: Карта открыта" in text
    assert "шаг 1 из" not in text
    # still no blank draft: the menu's entry leads to the status again
    await petrov.press("В меню")
    await petrov.press("Заявление на ЭМК")
    assert "Статус: Карта открыта" in petrov.last.text
