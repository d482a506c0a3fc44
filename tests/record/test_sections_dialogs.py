"""«Моя медкарта» as a person uses it: Анна's sections and entries, paging, Петров's empty
record, adding a document of one's own, downloads, and buttons that are not hers."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select

from services.core.files import inspect_upload
from services.demo import PETROV_APPLICATION
from storage.models import AuditEntry, MedicalRecord, RecordVisit
from tests.support.application import make_pdf, make_png
from tests.support.application_flow import apply, signed_in
from tests.support.bot import SMIRNOVA_PHONE, App, send_document_as_declared
from tgsandbox import SandboxUser

MB = 1024 * 1024
CARD_BUTTONS = [
    "Личные данные и полисы",
    "Диагнозы",
    "Лекарства",
    "Прививки",
    "Госпитализации",
    "Обследования и процедуры",
    "Скрининги и диспансеризация",
    "Посещения врачей",
    "Мои документы",
    "Результаты анализов",
    "Выписки и заключения",
    "В меню",
]
NAV = ["К разделам", "В меню"]


def day(app: App, days_ago: int) -> str:
    return (app.clock.now().date() - timedelta(days=days_ago)).strftime("%d.%m.%Y")


async def anna_at_card(app: App) -> SandboxUser:
    anna = app.user()
    await app.sign_in(anna)
    assert anna.last.buttons[0] == "Моя медкарта"
    await anna.press("Моя медкарта")
    assert anna.last.text.startswith("Моя медкарта")
    return anna


async def open_entry(user: SandboxUser, section: str, label: str) -> str:
    await user.press(section)
    await user.press(label)
    return user.last.text or ""


async def test_the_card_lists_every_section(app: App) -> None:
    anna = await anna_at_card(app)
    assert anna.last.text == "Моя медкарта\n\nВыберите раздел."
    assert anna.last.buttons == CARD_BUTTONS


async def test_personal_data_and_policies(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Личные данные и полисы")
    assert anna.last.text == (
        "Личные данные и полисы\n\n"
        "ФИО: Иванова Анна Сергеевна\n"
        "Дата рождения: 05.03.1990\n"
        "Пол: женский\n"
        "СНИЛС: 112-233-445 95\n"
        "Телефон: +79990000001\n"
        "Электронная почта: anna.ivanova@example.ru\n\n"
        "Полисы:\n"
        "• ОМС № 7700 4512 9083 1166, АО «СОГАЗ-Мед» — бессрочный\n"
        f"• ДМС № ДМС-0012-458723, СПАО «Ингосстрах» — до 31.12.{app.clock.now().year + 1}"
    )
    assert anna.last.buttons == NAV
    await anna.press("К разделам")
    assert anna.last.buttons == CARD_BUTTONS


async def test_diagnoses(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Диагнозы")
    assert anna.last.text == "Диагнозы\n\nВыберите запись, чтобы открыть её."
    buttons = anna.last.buttons
    assert buttons[0].startswith("R73.0 · Отклонения результатов нормы")
    assert buttons[1].startswith("J06.9 · снят · Острая инфекция")
    assert buttons[2:] == ["K29.5 · Хронический гастрит неуточненный", *NAV]
    await anna.press("J06.9")
    assert anna.last.text == (
        "Диагноз J06.9\n\n"
        "Код по МКБ-10: J06.9\n"
        "Диагноз: Острая инфекция верхних дыхательных путей неуточненная\n"
        f"Дата установления: {day(app, 400)}\n"
        "Врач: Смирнова Елена Викторовна\n"
        "Медицинская организация: ГБУЗ «Городская поликлиника № 12»\n"
        f"Статус: снят ({day(app, 392)})\n\n"
        "(добавлено: врач Смирнова Елена Викторовна)"
    )
    assert anna.last.buttons == ["К списку", "В меню"]
    await anna.press("К списку")
    await anna.press("K29.5")
    assert "Статус: активен" in anna.last.text
    assert "Врач: Орлов Дмитрий Андреевич" in anna.last.text


async def test_medications_current_first(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Лекарства")
    assert anna.last.buttons == [
        "Метформин 500 мг · принимаете сейчас",
        f"Ибупрофен 200 мг · курс до {day(app, 395)}",
        f"Омепразол 20 мг · курс до {day(app, 512)}",
        *NAV,
    ]
    await anna.press("Метформин")
    assert anna.last.text == (
        "Метформин\n\n"
        "Препарат: Метформин\n"
        "Дозировка: 500 мг\n"
        "Как принимать: По 1 таблетке 1 раз в день во время ужина\n"
        f"Курс: с {day(app, 28)}, без даты окончания\n"
        "Сейчас: принимаете\n"
        "Назначил: Смирнова Елена Викторовна\n\n"
        "(добавлено: врач Смирнова Елена Викторовна)"
    )
    await anna.press("К списку")
    await anna.press("Омепразол")
    assert f"Курс: {day(app, 540)} — {day(app, 512)}" in anna.last.text
    assert "Сейчас: курс завершён" in anna.last.text


async def test_vaccinations(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Прививки")
    assert anna.last.buttons == [
        f"{day(app, 60)} · Совигрипп (грипп)",
        f"{day(app, 900)} · АДС-М (дифтерия, столбняк), ревакцинация",
        f"{day(app, 1379)} · Гам-КОВИД-Вак (Спутник V), компонент II",
        f"{day(app, 1400)} · Гам-КОВИД-Вак (Спутник V), компонент I",
        *NAV,
    ]
    await anna.press(f"{day(app, 1400)} · Гам-КОВИД-Вак (Спутник V), компонент I")
    assert anna.last.text == (
        "Прививка: Гам-КОВИД-Вак (Спутник V), компонент I\n\n"
        "Вакцина: Гам-КОВИД-Вак (Спутник V), компонент I\n"
        f"Дата: {day(app, 1400)}\n"
        "Номер дозы: 1\n"
        "Реакция: Температура до 37,5 °C в течение суток\n"
        "Медицинская организация: ГБУЗ «Городская поликлиника № 12»"
    )


async def test_a_hospitalisation_with_its_discharge_summary(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Госпитализации")
    assert anna.last.buttons == [
        f"{day(app, 540)} · Обострение хронического гастрита, боли в эпига…",
        *NAV,
    ]
    await anna.press("Обострение")
    text = anna.last.text
    assert text.startswith(
        "Госпитализация\n\n"
        f"Поступление: {day(app, 540)}\n"
        f"Выписка: {day(app, 533)}\n"
        "Медицинская организация: ГБУЗ «Городская клиническая больница № 7»\n"
        "Отделение: Гастроэнтерологическое отделение\n"
        "Причина: Обострение хронического гастрита, боли в эпигастрии\n"
        "Исход: Выписана с улучшением\n\n"
        "Выписной эпикриз:\n"
        "Пациентка Иванова Анна Сергеевна находилась на лечении"
    )
    assert "Рекомендации: наблюдение гастроэнтеролога" in text
    assert text.endswith("(добавлено: врач Кравцова Марина Олеговна)")
    assert anna.last.buttons == ["Скачать выписной эпикриз", "К списку", "В меню"]

    await anna.press("Скачать выписной эпикриз")
    sent = anna.bot_messages[-2]
    assert sent.document is not None
    assert sent.raw.get("has_protected_content") is True
    assert sent.document.name == f"Выписной эпикриз {day(app, 533)}.pdf"
    reader = PdfReader(io.BytesIO(sent.document.data))
    assert "Выписной эпикриз" in reader.pages[0].extract_text()
    # the window comes again under the file
    assert anna.last.text.startswith("Госпитализация")
    assert anna.last.buttons == ["Скачать выписной эпикриз", "К списку", "В меню"]
    async with app.runtime.uow_factory() as uow:  # type: ignore[union-attr]
        rows = await uow.session.execute(
            select(AuditEntry).where(AuditEntry.action == "record.document.download")
        )
        (row,) = rows.scalars()
        assert row.details["kind"] == "discharge_summary"


async def test_procedures_screenings_and_visits(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Обследования и процедуры")
    assert anna.last.buttons == [
        f"{day(app, 538)} · Эзофагогастродуоденоскопия (ЭГДС)",
        f"{day(app, 539)} · УЗИ органов брюшной полости",
        *NAV,
    ]
    await anna.press("УЗИ")
    assert anna.last.text == (
        "УЗИ органов брюшной полости\n\n"
        "Вид: визуализация\n"
        "Название: УЗИ органов брюшной полости\n"
        f"Дата: {day(app, 539)}\n"
        "Медицинская организация: ГБУЗ «Городская клиническая больница № 7»\n"
        "Результат: Печень, желчный пузырь и поджелудочная железа без очаговых изменений.\n\n"
        "(добавлено врачом)"
    )
    await anna.press("К списку")
    await anna.press("К разделам")

    await anna.press("Скрининги и диспансеризация")
    buttons = anna.last.buttons
    assert len(buttons) == 5 + len(NAV)
    assert f"{day(app, 35)} · Глюкоза крови натощак: 6,4 ммоль/л" in buttons
    await anna.press("Глюкоза")
    year = (app.clock.now().date() - timedelta(days=35)).year
    assert anna.last.text == (
        f"Диспансеризация {year}\n\n"
        f"Программа: Диспансеризация {year}\n"
        "Показатель: Глюкоза крови натощак\n"
        "Значение: 6,4 ммоль/л\n"
        "Оценка: выше нормы, направлена к терапевту\n"
        f"Дата: {day(app, 35)}\n\n"
        "(добавлено врачом)"
    )
    await anna.press("К списку")
    await anna.press("К разделам")

    await anna.press("Посещения врачей")
    assert anna.last.buttons == [
        f"{day(app, 30)} · Терапевт, Смирнова Елена Викторовна",
        f"{day(app, 200)} · Гастроэнтеролог, Орлов Дмитрий Андреевич",
        *NAV,
    ]
    await anna.press("Гастроэнтеролог")
    assert anna.last.text == (
        "Приём: Гастроэнтеролог\n\n"
        f"Дата: {day(app, 200)}\n"
        "Врач: Орлов Дмитрий Андреевич\n"
        "Специальность: Гастроэнтеролог\n"
        "Медицинская организация: ГБУЗ «Городская поликлиника № 12»\n"
        "Заключение: Хронический гастрит в стадии ремиссии. Диета, повторный осмотр через год.\n\n"
        "(добавлено: врач Орлов Дмитрий Андреевич)"
    )


async def test_labs_and_extracts_open_their_own_dialogs(app: App) -> None:
    anna = await anna_at_card(app)
    card = anna.last.message_id
    await anna.press("Результаты анализов")
    assert anna.last.message_id >= card and not anna.last.text.startswith("Моя медкарта")
    await anna.press("В меню")
    await anna.press("Моя медкарта")
    await anna.press("Выписки и заключения")
    assert not anna.last.text.startswith("Моя медкарта")


# -- paging --------------------------------------------------------------------------------


async def test_a_long_section_is_paged(app: App) -> None:
    """Ольга has 14 visits: three pages of six, newest first, walked both ways."""
    olga = await signed_in(app, SMIRNOVA_PHONE)
    async with app.runtime.uow_factory() as uow:  # type: ignore[union-attr]
        account = await uow.identity.accounts.find_by_login("phone", SMIRNOVA_PHONE)
        assert account is not None
        now = app.clock.now()
        await uow.record.records.add(
            MedicalRecord(
                account_id=account.id,
                last_name="Смирнова",
                first_name="Ольга",
                middle_name="Петровна",
                birth_date=date(1992, 9, 2),
                sex="female",
                snils="41278903586",
                policy_number="5098231456702318",
                policy_end=date(2040, 12, 31),
                created_at=now,
                updated_at=now,
            )
        )
        await uow.record.sections.add(
            *(
                RecordVisit(
                    account_id=account.id,
                    visited_on=date(2025, 1, 1) + timedelta(days=i),
                    doctor_name=f"Врач № {i + 1}",
                    specialty="Терапевт",
                    organisation_name="Поликлиника",
                    source="doctor",
                    created_at=now,
                )
                for i in range(14)
            )
        )
        await uow.commit()
    await olga.send("/menu")
    await olga.press("Моя медкарта")
    await olga.press("Посещения врачей")

    def doctors() -> list[str]:
        return [b.split(", ")[1] for b in olga.last.buttons if "Терапевт, " in b]

    assert doctors() == [f"Врач № {i}" for i in range(14, 8, -1)]
    assert "Страница 1 из 3" in olga.last.text
    assert "‹ Назад" not in olga.last.buttons and "Вперёд ›" in olga.last.buttons
    await olga.press("Вперёд ›")
    assert doctors() == [f"Врач № {i}" for i in range(8, 2, -1)]
    assert "Страница 2 из 3" in olga.last.text
    assert {"‹ Назад", "Вперёд ›"} <= set(olga.last.buttons)
    await olga.press("Вперёд ›")
    assert doctors() == ["Врач № 2", "Врач № 1"]
    assert "Страница 3 из 3" in olga.last.text
    assert "Вперёд ›" not in olga.last.buttons
    # an entry and back: the same page
    await olga.press("Врач № 1")
    assert "Дата: 01.01.2025" in olga.last.text
    await olga.press("К списку")
    assert "Страница 3 из 3" in olga.last.text
    await olga.press("‹ Назад")
    assert "Страница 2 из 3" in olga.last.text
    # the profile: no ОМС row, the record's policy
    await olga.press("К разделам")
    await olga.press("Личные данные и полисы")
    assert "• ОМС № 5098 2314 5670 2318 — до 31.12.2040" in olga.last.text


# -- Петров's empty record, and no record ------------------------------------------------


async def test_petrovs_record_once_opened_is_empty_and_says_so(app: App) -> None:
    petrov = await signed_in(app)
    assert "Моя медкарта" not in petrov.last.buttons
    await apply(app, petrov, PETROV_APPLICATION)
    await app.process_applications()
    await petrov.send("/menu")
    assert petrov.last.buttons[0] == "Моя медкарта"
    await petrov.press("Моя медкарта")
    assert "В вашей медкарте пока нет записей." in petrov.last.text
    assert petrov.last.buttons == CARD_BUTTONS
    for section in CARD_BUTTONS[1:9]:
        await petrov.press(section)
        assert petrov.last.text == (
            f"{section}\n\nВ вашей медкарте пока нет записей в разделе «{section}»."
        )
        expected = ["Добавить документ", *NAV] if section == "Мои документы" else NAV
        assert petrov.last.buttons == expected
        await petrov.press("К разделам")
    await petrov.press("Личные данные и полисы")
    assert "ФИО: Петров Сергей Иванович" in petrov.last.text
    assert "СНИЛС: 156-236-488 77" in petrov.last.text
    assert "• ОМС № 7750 1983 4027 1955 — до 31.12.2045" in petrov.last.text


async def test_without_an_open_record_the_card_says_so(app: App) -> None:
    anna = await anna_at_card(app)
    async with app.runtime.uow_factory() as uow:  # type: ignore[union-attr]
        await uow.session.execute(delete(MedicalRecord))
        await uow.commit()
    await anna.press("Диагнозы")
    assert "Электронная медицинская карта ещё не открыта" in anna.last.text
    await anna.press("К разделам")
    assert anna.last.text.startswith(
        "Моя медкарта\n\nЭлектронная медицинская карта ещё не открыта. Чтобы открыть её, "
        "подайте заявление на ЭМК в главном меню."
    )
    assert anna.last.buttons == ["В меню"]
    await anna.press("В меню")
    assert "Главное меню" in anna.last.text


async def test_a_forged_button_does_not_open_someone_elses_entry(app: App) -> None:
    olga = await signed_in(app, SMIRNOVA_PHONE)
    anna = await anna_at_card(app)
    await anna.press("Диагнозы")
    button = anna.last.button("K29.5")
    async with app.runtime.uow_factory() as uow:  # type: ignore[union-attr]
        account = await uow.identity.accounts.find_by_login("phone", SMIRNOVA_PHONE)
        assert account is not None
        now = app.clock.now()
        await uow.record.records.add(
            MedicalRecord(
                account_id=account.id,
                last_name="Смирнова",
                first_name="Ольга",
                middle_name=None,
                birth_date=date(1992, 9, 2),
                sex="female",
                snils="41278903586",
                policy_number="5098231456702318",
                policy_end=None,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    await olga.send("/menu")
    await olga.press("Моя медкарта")
    await olga.press("Диагнозы")
    window = olga.last
    # Ольга's own window and intent, with the id of Анна's diagnosis in the entry button
    intent = window.button("К разделам")["callback_data"].split("\x1d")[0]
    annas_entry = button["callback_data"].split(":")[-1]
    forged = f"{intent}\x1dentry:{annas_entry}"
    await app.sandbox.press_callback(olga.id, window.message_id, forged)
    await app.settle()
    text = olga.last.text or ""
    assert "Такой записи в медкарте нет" in text
    assert "K29.5" not in text and "гастрит" not in text
    async with app.runtime.uow_factory() as uow:  # type: ignore[union-attr]
        rows = await uow.session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "record.entry.view",
                AuditEntry.actor_account_id == account.id,
            )
        )
        assert list(rows.scalars()) == []


# -- «Добавить документ» -----------------------------------------------------------------


async def at_file_step(anna: SandboxUser) -> None:
    await anna.press("Мои документы")
    await anna.press("Добавить документ")
    assert anna.last.buttons == [
        "Результат исследования",
        "Заключение врача",
        "Выписка",
        "Другое",
        "Отмена",
    ]
    await anna.press("Результат исследования")
    assert "Напишите название документа" in anna.last.text
    await anna.send("МРТ коленного сустава")
    assert "Напишите дату документа в формате ДД.ММ.ГГГГ" in anna.last.text
    await anna.send("12.09.2025")
    assert "Пришлите документ файлом или фотографией" in anna.last.text


ENTERED = "Вид: Результат исследования\nНазвание: МРТ коленного сустава\nДата: 12.09.2025"


async def test_adding_a_document_of_ones_own(app: App) -> None:
    anna = await anna_at_card(app)
    await anna.press("Мои документы")
    await anna.press("Добавить документ")
    await anna.press("Результат исследования")
    await anna.send("МРТ коленного сустава")
    # a date in the future, then one that does not exist: asked again, the rest kept
    tomorrow = (app.clock.now().date() + timedelta(days=1)).strftime("%d.%m.%Y")
    await anna.send(tomorrow)
    assert "⚠️ Дата документа не может быть позже сегодняшнего дня" in anna.last.text
    assert "Название: МРТ коленного сустава" in anna.last.text
    await anna.send("31.02.2025")
    assert "⚠️ Такой даты нет в календаре" in anna.last.text
    await anna.send("12.09.2025")
    assert ENTERED in anna.last.text

    pdf = make_pdf(pages=2)
    await anna.send_document(pdf, "mri.pdf")
    assert anna.last.text.startswith(
        "Документ «МРТ коленного сустава» добавлен в медкарту.\n\nМои документы"
    )
    assert anna.last.buttons == ["12.09.2025 · МРТ коленного сустава", "Добавить документ", *NAV]
    await anna.press("МРТ коленного сустава")
    text = anna.last.text
    assert text.startswith(
        "МРТ коленного сустава\n\n"
        "Вид документа: Результат исследования\n"
        "Название: МРТ коленного сустава\n"
        "Дата документа: 12.09.2025\n"
        "Файл: PDF, "
    )
    assert text.endswith("(добавлено вами)")
    await anna.press("Скачать файл")
    sent = anna.bot_messages[-2]
    assert sent.document is not None and sent.document.name == "mri.pdf"
    assert sent.document.data == inspect_upload(pdf).data
    assert sent.raw.get("has_protected_content") is True


REFUSED = {
    "a text file": (
        lambda user: user.send_document("Результат МРТ".encode(), "мрт.txt"),
        "формат не поддерживается",
    ),
    "too big (declared)": (
        lambda user: user.send_document(b"%PDF-1.4\n" + b"0" * (6 * MB), "мрт.pdf"),
        "файл больше 5 МБ",
    ),
    "empty": (lambda user: send_document_as_declared(user, b"", "мрт.pdf"), "файл пустой"),
    "a thumbnail": (
        lambda user: user.send_document(make_png(width=300, height=200), "мрт.png"),
        "Изображение слишком маленькое",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_refused_file_keeps_what_was_entered(app: App, case: str) -> None:
    send, reason = REFUSED[case]
    anna = await anna_at_card(app)
    await at_file_step(anna)
    await send(anna)
    text = anna.last.text
    assert reason in text and "⚠️" in text, text
    assert ENTERED in text
    assert "Пришлите документ файлом или фотографией" in text
    # a text instead of a file
    await anna.send("вот")
    assert "Здесь нужен документ" in anna.last.text
    # and a good picture is taken with what was entered
    await anna.send_document(make_png("olive"), "мрт.png")
    assert "Документ «МРТ коленного сустава» добавлен в медкарту." in anna.last.text


async def test_cancel_adds_nothing(app: App) -> None:
    anna = await anna_at_card(app)
    await at_file_step(anna)
    await anna.press("Отмена")
    assert anna.last.text == (
        "Мои документы\n\nВ вашей медкарте пока нет записей в разделе «Мои документы»."
    )
