"""The record's sections as services: Анна's demo data, paging, one entry, files, МКБ-10.

Paging and the МКБ-10 table run on SQLite and on PostgreSQL (``database_url``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from services.core.access import CurrentUser
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.files import UploadRejected, inspect_upload
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.core.work import UseCases
from services.record.demo_sections import seed_sections
from services.record.own_documents import OwnDocuments
from services.record.sections import (
    PAGE_SIZE,
    SECTIONS,
    RecordFiles,
    RecordSections,
    SectionPage,
    icd10_name,
    icd10_search,
)
from storage.models import (
    Account,
    AuditEntry,
    Icd10Code,
    MedicalRecord,
    Medication,
    RecordVisit,
    Vaccination,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.application import (
    PETROV_PHONE,
    files_on_disk,
    in_uow,
    make_pdf,
    make_png,
    seed,
    sign_in,
    use_file_store,
)
from tests.support.services import Env

ANNA_PHONE = "+79990000001"
ICD10_CSV = Path(__file__).resolve().parents[2] / "storage/migrations/data/icd10_ru.csv"


def sections(env: Env) -> UseCases[RecordSections]:
    return UseCases(env.uow_factory, env.ctx, RecordSections)


async def page(env: Env, user: CurrentUser, section: str, number: int = 1) -> SectionPage:
    return await sections(env).run(lambda s: s.page(user, user.account_id, section, number))


async def journal(env: Env, action: str) -> list[AuditEntry]:
    async with env.uow() as uow:
        rows = await uow.session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows.scalars())


@pytest.fixture
async def anna(env: Env, tmp_path: Path) -> CurrentUser:
    """Анна with her open demo record (the discharge summary's PDF in a file store)."""
    use_file_store(env, tmp_path / "files")
    await seed(env)
    return await sign_in(env, ANNA_PHONE)


# -- Анна's sections -------------------------------------------------------------------


async def test_anna_sees_every_section_with_her_demo_entries(env: Env, anna: CurrentUser) -> None:
    pages = {spec.key: await page(env, anna, spec.key) for spec in SECTIONS}
    assert {key: p.total for key, p in pages.items()} == {
        "diagnoses": 3,
        "medications": 3,
        "vaccinations": 4,
        "hospitalisations": 1,
        "procedures": 2,
        "screenings": 5,
        "visits": 2,
        "documents": 0,
    }
    diagnoses = [line.label for line in pages["diagnoses"].lines]
    # newest first; the resolved one is marked
    assert [d.split(" · ")[0] for d in diagnoses] == ["R73.0", "J06.9", "K29.5"]
    assert diagnoses[1].startswith("J06.9 · снят · Острая инфекция")
    assert diagnoses[2] == "K29.5 · Хронический гастрит неуточненный"
    medications = [line.label for line in pages["medications"].lines]
    assert medications[0] == "Метформин 500 мг · принимаете сейчас"
    assert all("курс до" in m for m in medications[1:])
    vaccinations = [line.label for line in pages["vaccinations"].lines]
    dates = [date(*reversed([int(x) for x in v.split(" · ")[0].split(".")])) for v in vaccinations]
    assert dates == sorted(dates, reverse=True)
    assert pages["documents"].lines == ()
    assert pages["documents"].empty_text == (
        "В вашей медкарте пока нет записей в разделе «Мои документы»."
    )


async def test_a_page_and_an_entry_are_journaled_with_ids_only(env: Env, anna: CurrentUser) -> None:
    listed = await page(env, anna, "diagnoses")
    entry_id = listed.lines[0].entry_id
    view = await sections(env).run(lambda s: s.entry(anna, anna.account_id, "diagnoses", entry_id))
    assert view.title == "Диагноз R73.0"
    (section_row,) = [r for r in await journal(env, "record.section.view")]
    assert section_row.details == {"section": "diagnoses", "page": 1}
    assert (section_row.permission, section_row.basis) == ("record.read", "self")
    assert section_row.subject_account_id == anna.account_id
    (entry_row,) = await journal(env, "record.entry.view")
    assert entry_row.details == {"section": "diagnoses", "entry_id": entry_id}
    assert entry_row.outcome == "ok"


async def test_each_entry_shows_every_field(env: Env, anna: CurrentUser) -> None:
    async def first(section: str, label: str = "") -> dict[str, Any]:
        listed = await page(env, anna, section)
        line = next(line for line in listed.lines if label in line.label)
        view = await sections(env).run(
            lambda s: s.entry(anna, anna.account_id, section, line.entry_id)
        )
        fields = {f.label: f.value for f in view.fields}
        return {"fields": fields, "note": view.source_note, "view": view}

    today = env.clock.now().date()
    resolved = await first("diagnoses", "J06.9")
    assert resolved["fields"]["Статус"] == f"снят ({today - timedelta(days=392):%d.%m.%Y})"
    assert resolved["fields"]["Диагноз"] == "Острая инфекция верхних дыхательных путей неуточненная"
    assert resolved["note"] == "добавлено: врач Смирнова Елена Викторовна"

    current = await first("medications", "Метформин")
    assert current["fields"]["Сейчас"] == "принимаете"
    assert current["fields"]["Как принимать"] == "По 1 таблетке 1 раз в день во время ужина"
    assert current["fields"]["Курс"].endswith("без даты окончания")

    vaccine = await first("vaccinations", "компонент I")
    assert vaccine["fields"]["Номер дозы"] in ("1", "2")
    assert "Реакция" in vaccine["fields"]

    stay = await first("hospitalisations")
    assert stay["fields"]["Отделение"] == "Гастроэнтерологическое отделение"
    assert stay["fields"]["Исход"] == "Выписана с улучшением"
    assert stay["view"].body_title == "Выписной эпикриз"
    assert "Рекомендации:" in stay["view"].body
    assert stay["view"].file.label == "Скачать выписной эпикриз"

    egd = await first("procedures", "ЭГДС")
    assert egd["fields"]["Вид"] == "обследование"
    ultrasound = await first("procedures", "УЗИ")
    assert ultrasound["fields"]["Вид"] == "визуализация"

    glucose = await first("screenings", "Глюкоза")
    assert glucose["fields"]["Значение"] == "6,4 ммоль/л"
    assert glucose["fields"]["Программа"].startswith("Диспансеризация ")

    visit = await first("visits", "Терапевт")
    assert visit["fields"]["Специальность"] == "Терапевт"
    assert "метформин" in visit["fields"]["Заключение"]


async def test_the_profile_shows_the_policies_and_to_the_owner_the_contacts(
    env: Env, anna: CurrentUser
) -> None:
    view = await sections(env).run(lambda s: s.profile(anna, anna.account_id))
    assert view.full_name == "Иванова Анна Сергеевна"
    assert view.snils == "112-233-445 95"
    assert (view.birth_date, view.sex) == ("05.03.1990", "женский")
    assert view.contacts_shown and view.phone == ANNA_PHONE
    assert [(p.kind, p.insurer, p.valid) for p in view.policies] == [
        ("ОМС", "АО «СОГАЗ-Мед»", "бессрочный"),
        ("ДМС", "СПАО «Ингосстрах»", f"до 31.12.{env.clock.now().year + 1}"),
    ]
    assert view.policies[0].number == "7700 4512 9083 1166"
    (row,) = await journal(env, "record.profile.view")
    assert row.details == {"contacts": True}


async def test_without_policy_rows_the_records_oms_is_shown(env: Env) -> None:
    await seed(env)
    petrov = await sign_in(env, PETROV_PHONE)
    await add_record(env, petrov.account_id, policy_end=date(2045, 12, 31))
    view = await sections(env).run(lambda s: s.profile(petrov, petrov.account_id))
    assert [(p.kind, p.number, p.valid) for p in view.policies] == [
        ("ОМС", "7750 1983 4027 1955", "до 31.12.2045")
    ]
    for spec in SECTIONS:
        empty = await page(env, petrov, spec.key)
        assert (empty.total, empty.pages, empty.lines) == (0, 1, ())
        assert empty.empty_text.startswith("В вашей медкарте пока нет записей")
    overview = await sections(env).run(lambda s: s.overview(petrov, petrov.account_id))
    assert overview.open and overview.empty


async def test_no_record_no_sections(env: Env) -> None:
    await seed(env)
    petrov = await sign_in(env, PETROV_PHONE)
    overview = await sections(env).run(lambda s: s.overview(petrov, petrov.account_id))
    assert not overview.open
    with pytest.raises(DomainError, match="карта ещё не открыта"):
        await page(env, petrov, "diagnoses")


async def test_an_entry_of_another_record_is_refused(env: Env, anna: CurrentUser) -> None:
    await seed(env)
    petrov = await sign_in(env, PETROV_PHONE)
    await add_record(env, petrov.account_id)
    annas = (await page(env, anna, "diagnoses")).lines[0].entry_id
    with pytest.raises(NotFoundError, match="Такой записи в медкарте нет"):
        await sections(env).run(lambda s: s.entry(petrov, petrov.account_id, "diagnoses", annas))
    assert await journal(env, "record.entry.view") == []
    with pytest.raises(NotFoundError):
        await sections(env).run(lambda s: s.entry(anna, anna.account_id, "no-such", annas))


async def test_seeding_twice_adds_nothing(env: Env, anna: CurrentUser) -> None:
    async with env.uow() as uow:
        await seed_sections(uow, env.ctx, anna.account_id)
        await uow.commit()
    assert (await page(env, anna, "diagnoses")).total == 3
    assert (await page(env, anna, "vaccinations")).total == 4


# -- files ------------------------------------------------------------------------------


async def test_the_discharge_summary_downloads_as_a_cyrillic_pdf(
    env: Env, anna: CurrentUser
) -> None:
    stay = (await page(env, anna, "hospitalisations")).lines[0]
    view = await sections(env).run(
        lambda s: s.entry(anna, anna.account_id, "hospitalisations", stay.entry_id)
    )
    assert view.file is not None
    file = await RecordFiles(env.uow_factory, env.ctx).download(
        anna, anna.account_id, view.file.document_id
    )
    assert file.mime_type == "application/pdf"
    assert file.file_name.startswith("Выписной эпикриз ") and file.file_name.endswith(".pdf")
    text = PdfReader(io.BytesIO(file.data)).pages[0].extract_text()
    assert "Выписной эпикриз" in text and "Иванова Анна Сергеевна" in text
    (row,) = await journal(env, "record.document.download")
    assert row.details == {"document_id": view.file.document_id, "kind": "discharge_summary"}
    assert row.permission == "record.download"


async def test_a_document_of_ones_own_is_checked_stored_and_marked(
    env: Env, anna: CurrentUser, tmp_path: Path
) -> None:
    own = OwnDocuments(env.uow_factory, env.ctx)
    png = make_png("teal")
    added = await own.add(
        anna,
        anna.account_id,
        kind="result",
        title="  МРТ   коленного сустава ",
        document_date="12.09.2025",
        data=png,
        file_name="../mri.png",
    )
    assert (added.title, added.kind) == ("МРТ коленного сустава", "png")
    listed = await page(env, anna, "documents")
    assert [line.label for line in listed.lines] == ["12.09.2025 · МРТ коленного сустава"]
    view = await sections(env).run(
        lambda s: s.entry(anna, anna.account_id, "documents", added.document_id)
    )
    fields = {f.label: f.value for f in view.fields}
    assert fields["Вид документа"] == "Результат исследования"
    assert fields["Файл"].startswith("PNG, ")
    assert view.source_note == "добавлено вами"
    assert view.file is not None and view.file.label == "Скачать файл"
    file = await RecordFiles(env.uow_factory, env.ctx).download(
        anna, anna.account_id, added.document_id
    )
    assert file.data == inspect_upload(png).data  # the re-encoded picture, as stored
    assert file.file_name == "mri.png"
    (row,) = await journal(env, "record.document.add")
    assert row.details["document_id"] == added.document_id
    assert row.details["kind"] == "result"
    async with env.uow() as uow:
        document = await uow.record.sections.document(anna.account_id, added.document_id)
        assert document is not None and document.source == "patient"
    # the stored blob is encrypted: the picture's bytes are not on disk
    blobs = [p.read_bytes() for p in files_on_disk(tmp_path / "files")]
    assert blobs and all(file.data not in blob for blob in blobs)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"just text, not a document", "unsupported"),
        (make_pdf()[:200], "damaged"),
        (make_png(width=200, height=100), "too_small"),
    ],
)
async def test_a_bad_file_is_refused_and_nothing_is_stored(
    env: Env, anna: CurrentUser, tmp_path: Path, data: bytes, reason: str
) -> None:
    before = files_on_disk(tmp_path / "files")
    with pytest.raises(UploadRejected) as refused:
        await OwnDocuments(env.uow_factory, env.ctx).add(
            anna,
            anna.account_id,
            kind="other",
            title="Скан",
            document_date="01.02.2024",
            data=data,
        )
    assert refused.value.reason == reason
    with pytest.raises(UploadRejected) as core:
        inspect_upload(data)
    assert refused.value.message == core.value.message
    assert (await page(env, anna, "documents")).total == 0
    assert files_on_disk(tmp_path / "files") == before
    assert await journal(env, "record.document.add") == []


@pytest.mark.parametrize(
    ("kind", "title", "when", "message"),
    [
        ("result", "Скан", "27.11.2026", "позже сегодняшнего"),
        ("result", "Скан", "31.02.2024", "Такой даты нет"),
        ("result", "   ", "01.02.2024", "Напишите название"),
        ("discharge_summary", "Скан", "01.02.2024", "Выберите вид"),
    ],
)
async def test_kind_title_and_date_are_checked(
    env: Env, anna: CurrentUser, kind: str, title: str, when: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        await OwnDocuments(env.uow_factory, env.ctx).add(
            anna,
            anna.account_id,
            kind=kind,
            title=title,
            document_date=when,
            data=make_pdf(),
        )
    assert message in refused.value.message
    assert (await page(env, anna, "documents")).total == 0


# -- paging, on both databases -------------------------------------------------------------


@pytest.fixture
async def db_env(uow_factory: UnitOfWorkFactory) -> AsyncIterator[Env]:
    clock, sms, mail = FrozenClock(), ConsoleSms(), ConsoleMail()
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=sms, mail=mail),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    yield Env(ctx, clock, sms, mail, uow_factory)


async def add_account(env: Env, phone: str) -> CurrentUser:
    async def run(uow: UnitOfWork) -> CurrentUser:
        account = await uow.identity.accounts.add(
            Account(
                phone=phone,
                last_name="Листова",
                first_name="Мария",
                password_hash="-",
                failed_password_attempts=0,
                created_at=env.clock.now(),
            )
        )
        return CurrentUser(account_id=account.id, session_id=1, display_name="Мария")

    return await in_uow(env, run)


async def add_record(env: Env, account_id: int, *, policy_end: date | None = None) -> None:
    now = env.clock.now()
    await in_uow(
        env,
        lambda uow: uow.record.records.add(
            MedicalRecord(
                account_id=account_id,
                last_name="Петров",
                first_name="Сергей",
                middle_name="Иванович",
                birth_date=date(1985, 7, 14),
                sex="male",
                snils="15623648877",
                policy_number="7750198340271955",
                policy_end=policy_end,
                created_at=now,
                updated_at=now,
            )
        ),
    )


async def test_pages_walk_newest_first_with_counts(db_env: Env) -> None:
    env = db_env
    mary = await add_account(env, "+79990000021")
    other = await add_account(env, "+79990000022")
    await add_record(env, mary.account_id)
    await add_record(env, other.account_id)
    start = date(2025, 1, 1)
    total = 2 * PAGE_SIZE + 2

    async def fill(uow: UnitOfWork) -> None:
        # Two entries share each date: the id breaks the tie.
        await uow.record.sections.add(
            *(
                RecordVisit(
                    account_id=mary.account_id,
                    visited_on=start + timedelta(days=i // 2),
                    doctor_name=f"Врач {i:02d}",
                    specialty="Терапевт",
                    organisation_name="Поликлиника",
                    source="doctor",
                    created_at=env.clock.now(),
                )
                for i in range(total)
            ),
            *(
                RecordVisit(
                    account_id=other.account_id,
                    visited_on=start,
                    doctor_name="Чужой врач",
                    specialty="Хирург",
                    organisation_name="Больница",
                    source="doctor",
                    created_at=env.clock.now(),
                )
                for _ in range(3)
            ),
        )

    await in_uow(env, fill)
    seen: list[str] = []
    number = 1
    while True:
        current = await page(env, mary, "visits", number)
        assert (current.number, current.pages, current.total) == (number, 3, total)
        assert current.has_previous == (number > 1)
        seen += [line.label for line in current.lines]
        if not current.has_next:
            break
        assert len(current.lines) == PAGE_SIZE
        number += 1
    assert number == 3 and len(seen) == total
    doctors = [label.split(", ")[1] for label in seen]
    assert doctors == [f"Врач {i:02d}" for i in reversed(range(total))]
    assert not any("Чужой" in label for label in seen)
    # a page past the end shows the last one
    assert (await page(env, mary, "visits", 99)).number == 3
    assert (await page(env, mary, "visits", 0)).number == 1
    rows = await journal(env, "record.section.view")
    assert [r.details["page"] for r in rows] == [1, 2, 3, 3, 1]


async def test_current_medications_come_first_whatever_their_start(db_env: Env) -> None:
    env = db_env
    mary = await add_account(env, "+79990000023")
    await add_record(env, mary.account_id)
    today = env.clock.now().date()

    def med(name: str, start: int, end: int | None) -> Medication:
        return Medication(
            account_id=mary.account_id,
            name=name,
            dose="1 таб.",
            instructions="утром",
            start_on=today - timedelta(days=start),
            end_on=None if end is None else today - timedelta(days=end),
            source="doctor",
            created_at=env.clock.now(),
        )

    await in_uow(
        env,
        lambda uow: uow.record.sections.add(
            med("Прошлый новый", 10, 5),
            med("Текущий старый", 400, None),
            med("Заканчивается сегодня", 20, 0),
            med("Прошлый старый", 300, 200),
        ),
    )
    names = [
        line.label.split(" 1 таб.")[0] for line in (await page(env, mary, "medications")).lines
    ]
    assert names == ["Заканчивается сегодня", "Текущий старый", "Прошлый новый", "Прошлый старый"]


async def test_vaccinations_page_on_the_index_of_the_account(db_env: Env) -> None:
    """A page reads only its own account's range: other accounts' rows change nothing."""
    env = db_env
    mary = await add_account(env, "+79990000024")
    await add_record(env, mary.account_id)
    await in_uow(
        env,
        lambda uow: uow.record.sections.add(
            *(
                Vaccination(
                    account_id=mary.account_id,
                    vaccine=f"Вакцина {i}",
                    given_on=date(2024, 1, 1) + timedelta(days=i),
                    dose_number=i,
                    source="import",
                    created_at=env.clock.now(),
                )
                for i in range(PAGE_SIZE)
            )
        ),
    )
    only = await page(env, mary, "vaccinations")
    assert (only.pages, only.total, only.has_next) == (1, PAGE_SIZE, False)
    assert only.lines[0].label.endswith(f"Вакцина {PAGE_SIZE - 1}")


# -- МКБ-10 ----------------------------------------------------------------------------------

CODE = re.compile(r"[A-Z]\d{2}(?:\.\d)?")


def icd10_rows() -> list[dict[str, str]]:
    with ICD10_CSV.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        assert reader.fieldnames == ["code", "name"]
        return list(reader)


def test_the_icd10_subset_is_well_formed() -> None:
    rows = icd10_rows()
    codes = [row["code"] for row in rows]
    assert len(codes) >= 300
    assert len(set(codes)) == len(codes)
    assert [c for c in codes if not CODE.fullmatch(c)] == []
    assert all(row["name"].strip() == row["name"] and row["name"] for row in rows)
    assert all(re.search("[А-Яа-яЁё]", row["name"]) for row in rows)
    # across the chapters a polyclinic and a hospital use
    letters = {code[0] for code in codes}
    assert set("ABCDEFGHIJKLMNORSTZ") <= letters
    assert {row["code"]: row["name"] for row in rows}["I10"] == (
        "Эссенциальная [первичная] гипертензия"
    )


async def test_the_icd10_table_is_loaded_and_searched(db_env: Env) -> None:
    rows = icd10_rows()
    async with db_env.uow() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(Icd10Code))).scalar()
        assert count == len(rows) == await uow.record.sections.icd10_count()
        assert await icd10_name(uow, "j06.9") == (
            "Острая инфекция верхних дыхательных путей неуточненная"
        )
        assert await icd10_name(uow, "X99.9") is None
        by_prefix = await icd10_search(uow, "K29")
        assert [code for code, _ in by_prefix] == [
            "K29.0",
            "K29.1",
            "K29.3",
            "K29.4",
            "K29.5",
            "K29.7",
            "K29.9",
        ]
        diabetes = [code for code, _ in await icd10_search(uow, "e11.")]
        assert diabetes == ["E11.2", "E11.3", "E11.4", "E11.5", "E11.7", "E11.9"]
        words = await icd10_search(uow, "хронический гастрит")
        assert [code for code, _ in words] == ["K29.3", "K29.4", "K29.5"]
        assert ("K29.5", "Хронический гастрит неуточненный") in await icd10_search(uow, "Гастрит")
        assert await icd10_search(uow, "100%_") == []
        assert await icd10_search(uow, "  ") == []
