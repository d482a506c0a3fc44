"""The extract's PDF: Cyrillic text a reader can extract, every part the kind needs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

import pypdf

from services.record.pdf import (
    Analyte,
    Entry,
    ExtractDocument,
    LabBlock,
    PersonData,
    Section,
    format_policy,
    format_snils,
    render_extract,
)
from tests.support.extracts import ORGANISATION, pdf_text

PERSON = PersonData("Иванова Анна Сергеевна", date(1990, 3, 5), "11223344595", "7700451290831166")


def document(**changes: object) -> ExtractDocument:
    values: dict[str, object] = {
        "title": "Выписка из электронной медицинской карты",
        "organisation": ORGANISATION,
        "person": PERSON,
        "issued_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "period": "с 26.11.2025 по 26.11.2026",
        "number": "17",
        "sections": (
            Section(
                "Диагнозы",
                (Entry("K29.5 — Хронический гастрит", ("Установлен 12.03.2025", "Активный")),),
            ),
            Section("Прививки"),
        ),
        "labs": (
            LabBlock(
                "Глюкоза от 01.10.2026 (окончательный)",
                ("Лаборатория: КДЛ № 3",),
                (Analyte("Глюкоза", "6,4", "ммоль/л", "3,9–6,1", "↑"),),
            ),
        ),
    }
    values.update(changes)
    return ExtractDocument(**values)  # type: ignore[arg-type]


def test_the_text_holds_the_person_and_the_entries_in_cyrillic() -> None:
    data = render_extract(document())
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        ORGANISATION,
        "Выписка из электронной медицинской карты",
        "№ 17",
        "Период: с 26.11.2025 по 26.11.2026",
        "ФИО: Иванова Анна Сергеевна",
        "Дата рождения: 05.03.1990",
        "СНИЛС: 112-233-445 95",
        "Полис ОМС: 7700 4512 9083 1166",
        "K29.5 — Хронический гастрит",
        "Установлен 12.03.2025",
        "Записей за этот период нет.",  # the empty «Прививки»
        "Глюкоза от 01.10.2026",
        "Референсный интервал",
        "3,9–6,1",
        "ммоль/л",
        "Дата выдачи: 26.11.2026 12:00 (МСК)",
    ):
        assert expected in text, expected
    assert "подписан" in text and "электронной" in text
    reader = pypdf.PdfReader(BytesIO(data))
    assert reader.metadata is not None and reader.metadata.title == document().title


def test_a_long_extract_runs_over_pages() -> None:
    entries = tuple(
        Entry(f"Посещение № {i}", ("Терапевт", "Заключение: здоров")) for i in range(120)
    )
    data = render_extract(document(sections=(Section("Посещения врачей", entries),)))
    reader = pypdf.PdfReader(BytesIO(data))
    assert len(reader.pages) >= 3
    text = pdf_text(data)
    assert "Посещение № 0" in text and "Посещение № 119" in text
    assert f"стр. {len(reader.pages)} из {len(reader.pages)}" in text


def test_labs_title_and_empty_labs() -> None:
    text = pdf_text(render_extract(document(labs=(), labs_always=True, sections=())))
    assert "Результатов анализов за этот период нет." in text
    text = pdf_text(render_extract(document(labs=(), sections=())))
    assert "Результаты анализов" not in text


def test_numbers_are_shown_as_people_read_them() -> None:
    assert format_snils("11223344595") == "112-233-445 95"
    assert format_policy("7700451290831166") == "7700 4512 9083 1166"
