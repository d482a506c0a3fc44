"""«Моя медкарта»: the record's sections as the person (or whoever may) reads them.

Each use case asks the access rule first (``READ_RECORD``; files ``DOWNLOAD``)
for the account whose record it is, then reads one page or one entry and
journals the view (``record.section.view`` with the section and page,
``record.entry.view`` with the section and entry id, ``record.profile.view``).
An entry is looked up within the subject's record only, so an id of someone
else's entry (a forged button) is refused as not found.

What comes back is plain values with Russian labels, ready to show:
:class:`SectionPage` (lines that each open an entry), :class:`EntryView`
(every field of one entry), :class:`ProfileView`.

The МКБ-10 subset shipped with the migrations is looked up by
:func:`icd10_name` and searched by :func:`icd10_search`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.core import audit
from services.core.access import (
    MSK,
    AccountPrincipal,
    Decision,
    Permission,
    Principal,
    actor_account_id,
    actor_of,
    authorize,
    require,
)
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.core.gateways import FileStore
from services.core.validators import format_snils
from services.core.work import Work, in_unit
from storage.models import (
    Diagnosis,
    Hospitalisation,
    InsurancePolicy,
    MedicalRecord,
    Medication,
    Procedure,
    RecordDocument,
    RecordVisit,
    Screening,
    Vaccination,
)
from storage.repositories.record import SectionRow
from storage.uow import UnitOfWork

__all__ = [
    "PAGE_SIZE",
    "SECTIONS",
    "SECTION_TITLES",
    "DownloadedFile",
    "EntryLine",
    "EntryView",
    "Field",
    "FileLink",
    "Overview",
    "PolicyView",
    "ProfileView",
    "RecordFiles",
    "RecordSections",
    "SectionPage",
    "SectionSpec",
    "icd10_name",
    "icd10_search",
    "msk_today",
]

PAGE_SIZE = 6
# A line of a list is a button: Telegram shows about this many characters of one.
LINE_LIMIT = 60


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("diagnoses", "Диагнозы"),
    SectionSpec("medications", "Лекарства"),
    SectionSpec("vaccinations", "Прививки"),
    SectionSpec("hospitalisations", "Госпитализации"),
    SectionSpec("procedures", "Обследования и процедуры"),
    SectionSpec("screenings", "Скрининги и диспансеризация"),
    SectionSpec("visits", "Посещения врачей"),
    SectionSpec("documents", "Мои документы"),
)
SECTION_TITLES = {spec.key: spec.title for spec in SECTIONS}

MSG_NO_RECORD = (
    "Электронная медицинская карта ещё не открыта. Чтобы открыть её, подайте заявление "
    "на ЭМК в главном меню."
)
MSG_NO_ENTRY = "Такой записи в медкарте нет. Вернитесь к списку и выберите запись из него."
MSG_NO_FILE = "К этой записи не приложен файл."
MSG_FILE_UNAVAILABLE = "Файл сейчас недоступен. Попробуйте ещё раз немного позже."

SEX_LABELS = {"female": "женский", "male": "мужской"}
POLICY_LABELS = {"oms": "ОМС", "dms": "ДМС"}
PROCEDURE_LABELS = {
    "operation": "операция",
    "imaging": "визуализация",
    "examination": "обследование",
}
# A doctor's note in «Посещения врачей» (services.record.authored).
VISIT_NOTE_LABELS = {"plan": "План лечения", "anamnesis": "Анамнез"}
DOCUMENT_KIND_LABELS = {
    "result": "Результат исследования",
    "conclusion": "Заключение врача",
    "extract": "Выписка",
    "discharge_summary": "Выписной эпикриз",
    "other": "Другое",
}


def msk_today(ctx: AppContext) -> date:
    """Today in Moscow, by the context's clock."""
    return ctx.gateways.clock.now().astimezone(MSK).date()


def _d(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value is not None else "—"


def _clip(text: str, limit: int = LINE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- what the use cases return -----------------------------------------------------


@dataclass(frozen=True)
class EntryLine:
    """One entry of a list: its id and the line (a button) that opens it."""

    entry_id: int
    label: str


@dataclass(frozen=True)
class SectionPage:
    section: str
    title: str
    number: int  # 1-based
    pages: int  # at least 1
    total: int
    lines: tuple[EntryLine, ...]

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def empty_text(self) -> str:
        return f"В вашей медкарте пока нет записей в разделе «{self.title}»."


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class FileLink:
    """A file that goes with an entry: the document to download and the button's label."""

    document_id: int
    label: str


@dataclass(frozen=True)
class EntryView:
    section: str
    entry_id: int
    title: str
    fields: tuple[Field, ...]
    # «добавлено: врач …», «добавлено вами» — who put it into the record.
    source_note: str | None = None
    # A text that goes with it (a discharge summary's body).
    body_title: str | None = None
    body: str | None = None
    file: FileLink | None = None


@dataclass(frozen=True)
class PolicyView:
    kind: str  # «ОМС» / «ДМС»
    number: str
    insurer: str | None
    valid: str  # «до 31.12.2027» / «бессрочный»


@dataclass(frozen=True)
class ProfileView:
    full_name: str
    birth_date: str
    sex: str
    snils: str
    policies: tuple[PolicyView, ...]
    # Contacts are profile data: only for the owner (READ_PROFILE); None otherwise.
    phone: str | None = None
    email: str | None = None
    contacts_shown: bool = False


@dataclass(frozen=True)
class Overview:
    """Is the record open, and is anything in it yet?"""

    open: bool
    empty: bool = True


@dataclass(frozen=True)
class DownloadedFile:
    data: bytes
    file_name: str
    mime_type: str | None


@dataclass
class _Parts:
    fields: list[Field] = field(default_factory=list)

    def add(self, label: str, value: object) -> None:
        if value is None or value == "":
            return
        self.fields.append(Field(label, str(value)))


# -- the use cases -------------------------------------------------------------------


class RecordSections:
    """Reading the sections of a record; every method is one use case."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    async def _record(self, subject_account_id: int) -> MedicalRecord:
        record = await self.uow.record.records.for_account(subject_account_id)
        if record is None:
            raise DomainError(MSG_NO_RECORD)
        return record

    async def _journal(
        self, principal: Principal, subject: int, decision: Decision, action: str, **details: Any
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(principal),
            action=action,
            actor_account_id=actor_account_id(principal),
            subject_account_id=subject,
            **decision.audit_fields(),
            **details,
        )

    async def overview(self, principal: Principal, subject_account_id: int) -> Overview:
        """For the menu of the record: is it open, is it empty (not journaled: no data shown)."""
        await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.READ_RECORD,
            action="record.section.view",
            section="overview",
        )
        if await self.uow.record.records.for_account(subject_account_id) is None:
            return Overview(open=False)
        empty = not await self.uow.record.sections.any_entries(subject_account_id)
        return Overview(open=True, empty=empty)

    async def page(
        self, principal: Principal, subject_account_id: int, section: str, number: int = 1
    ) -> SectionPage:
        """Page `number` of `section` (clamped to the pages there are), newest first."""
        title = _title(section)
        decision = await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.READ_RECORD,
            action="record.section.view",
            section=section,
            page=number,
        )
        await self._record(subject_account_id)
        sections = self.uow.record.sections
        total = await sections.count(section, subject_account_id)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(1, number), pages)
        today = msk_today(self.ctx)
        rows = await sections.page(
            section,
            subject_account_id,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            today=today,
        )
        await self._journal(
            principal,
            subject_account_id,
            decision,
            "record.section.view",
            section=section,
            page=number,
        )
        lines = tuple(EntryLine(row.id, _clip(_line(section, row, today))) for row in rows)
        return SectionPage(section, title, number, pages, total, lines)

    async def entry(
        self, principal: Principal, subject_account_id: int, section: str, entry_id: int
    ) -> EntryView:
        """Every field of one entry of `section` in the record of `subject_account_id`."""
        _title(section)
        decision = await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.READ_RECORD,
            action="record.entry.view",
            section=section,
            entry_id=entry_id,
        )
        await self._record(subject_account_id)
        row = await self.uow.record.sections.entry(section, subject_account_id, entry_id)
        if row is None:
            raise NotFoundError(MSG_NO_ENTRY)
        own = isinstance(principal, AccountPrincipal) and principal.account_id == subject_account_id
        summary = None
        if isinstance(row, Hospitalisation) and row.summary_document_id is not None:
            summary = await self.uow.record.sections.document(
                subject_account_id, row.summary_document_id
            )
        await self._journal(
            principal,
            subject_account_id,
            decision,
            "record.entry.view",
            section=section,
            entry_id=entry_id,
        )
        return _view(section, row, msk_today(self.ctx), own=own, summary=summary)

    async def profile(self, principal: Principal, subject_account_id: int) -> ProfileView:
        """«Личные данные и полисы» (READ_IDENTITY: not for relatives); the contacts only
        where READ_PROFILE allows (the owner)."""
        decision = await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.READ_IDENTITY,
            action="record.profile.view",
        )
        record = await self._record(subject_account_id)
        policies = await self.uow.record.sections.policies(subject_account_id)
        contacts = await authorize(
            self.uow, self.ctx, principal, subject_account_id, Permission.READ_PROFILE
        )
        phone = email = None
        if contacts.allowed:
            account = await self.uow.identity.accounts.get(subject_account_id)
            if account is not None:
                phone, email = account.phone, account.email
        await self._journal(
            principal,
            subject_account_id,
            decision,
            "record.profile.view",
            contacts=contacts.allowed,
        )
        return ProfileView(
            full_name=" ".join(
                p for p in (record.last_name, record.first_name, record.middle_name) if p
            ),
            birth_date=_d(record.birth_date),
            sex=SEX_LABELS.get(record.sex, record.sex),
            snils=_snils(record.snils),
            policies=_policies(record, policies),
            phone=phone,
            email=email,
            contacts_shown=contacts.allowed,
        )

    async def file_of(
        self, principal: Principal, subject_account_id: int, document_id: int
    ) -> tuple[str, str, str | None]:
        """May the file of a document be downloaded now? Its store key, name and type.

        Journaled as ``record.document.download``; the bytes are read after
        this unit of work (:class:`RecordFiles`).
        """
        decision = await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.DOWNLOAD,
            action="record.document.download",
            document_id=document_id,
        )
        document = await self.uow.record.sections.document(subject_account_id, document_id)
        if document is None:
            raise NotFoundError(MSG_NO_ENTRY)
        if document.storage_key is None:
            raise DomainError(MSG_NO_FILE)
        await self._journal(
            principal,
            subject_account_id,
            decision,
            "record.document.download",
            document_id=document.id,
            kind=document.kind,
        )
        return document.storage_key, _file_name(document), document.mime_type


class RecordFiles:
    """Downloading a document's file: the access check and journal in one unit, then the read."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def download(
        self, principal: Principal, subject_account_id: int, document_id: int
    ) -> DownloadedFile:
        key, name, mime = await in_unit(
            self.work,
            lambda uow: RecordSections(uow, self.ctx).file_of(
                principal, subject_account_id, document_id
            ),
        )
        store: FileStore | None = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_FILE_UNAVAILABLE)
        try:
            data = await store.get(key)
        except Exception:
            raise DomainError(MSG_FILE_UNAVAILABLE) from None
        return DownloadedFile(data, name, mime)


# -- МКБ-10 ---------------------------------------------------------------------------

_CODE_PREFIX = re.compile(r"[A-Za-z]\d{0,2}(?:\.\d{0,2})?")
_WORD = re.compile(r"[\wА-Яа-яЁё-]+")


async def icd10_name(uow: UnitOfWork, code: str) -> str | None:
    """The Russian name of МКБ-10 `code` («J06.9»), if the shipped subset has it."""
    return await uow.record.sections.icd10_name(code.strip().upper())


async def icd10_search(uow: UnitOfWork, query: str, limit: int = 20) -> list[tuple[str, str]]:
    """Codes by a code prefix («J06», «e11.») or by words of the name («гастрит хронич»)."""
    text = query.strip()
    if not text:
        return []
    sections = uow.record.sections
    if _CODE_PREFIX.fullmatch(text):
        rows = await sections.icd10_by_prefix(text.upper(), limit)
    else:
        words = [w for w in _WORD.findall(text) if len(w) >= 2]
        if not words:
            return []
        rows = await sections.icd10_by_words(words, limit)
    return [(row.code, row.name) for row in rows]


# -- labels -----------------------------------------------------------------------------


def _title(section: str) -> str:
    try:
        return SECTION_TITLES[section]
    except KeyError:
        raise NotFoundError(MSG_NO_ENTRY) from None


def _snils(digits: str) -> str:
    try:
        return format_snils(digits)
    except ValueError:
        return digits


def _policy_number(number: str) -> str:
    """ОМС numbers of 16 digits are shown in groups of four, as on the policy."""
    if len(number) == 16 and number.isdigit():
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def _valid(until: date | None) -> str:
    return f"до {_d(until)}" if until is not None else "бессрочный"


def _policies(record: MedicalRecord, rows: Sequence[InsurancePolicy]) -> tuple[PolicyView, ...]:
    views = [
        PolicyView(
            POLICY_LABELS.get(p.kind, p.kind.upper()),
            _policy_number(p.number),
            p.insurer,
            _valid(p.valid_until),
        )
        for p in rows
    ]
    if not any(p.kind == "oms" for p in rows) and record.policy_number:
        views.insert(
            0,
            PolicyView(
                "ОМС", _policy_number(record.policy_number), None, _valid(record.policy_end)
            ),
        )
    return tuple(views)


def is_current(medication: Medication, today: date) -> bool:
    return medication.end_on is None or medication.end_on >= today


def _course(medication: Medication) -> str:
    if medication.end_on is None:
        return f"с {_d(medication.start_on)}, без даты окончания"
    return f"{_d(medication.start_on)} — {_d(medication.end_on)}"


def _line(section: str, row: SectionRow, today: date) -> str:
    match row:
        case Diagnosis():
            mark = "снят · " if row.status == "resolved" else ""
            return f"{row.icd10_code} · {mark}{row.name}"
        case Medication():
            when = "принимаете сейчас" if is_current(row, today) else f"курс до {_d(row.end_on)}"
            return f"{row.name} {row.dose} · {when}"
        case Vaccination():
            return f"{_d(row.given_on)} · {row.vaccine}"
        case Hospitalisation():
            return f"{_d(row.admitted_on)} · {row.reason}"
        case Procedure():
            return f"{_d(row.performed_on)} · {row.name}"
        case Screening():
            return f"{_d(row.measured_on)} · {row.indicator}: {row.value}"
        case RecordVisit():
            return f"{_d(row.visited_on)} · {row.specialty}, {row.doctor_name}"
        case RecordDocument():
            return f"{_d(row.document_date)} · {row.title}"
    raise AssertionError(section)


def source_note(row: Any, doctor: str | None, *, own: bool) -> str | None:
    """«добавлено: врач Соколова М. А., 03.12.2026», «добавлено вами» — who put it there."""
    note = _source_note(row.source, doctor, own=own)
    # An entry a doctor wrote here (services.record.authored) carries its day too.
    if note is not None and row.source == "doctor" and getattr(row, "author_staff_id", None):
        note += f", {row.created_at.astimezone(MSK):%d.%m.%Y}"
    return note


def _source_note(source: str, doctor: str | None, *, own: bool) -> str | None:
    if source == "doctor":
        return f"добавлено: врач {doctor}" if doctor else "добавлено врачом"
    if source == "patient":
        return "добавлено вами" if own else "добавлено пациентом"
    if source == "lab":
        return "добавлено лабораторией"
    return None


def _view(
    section: str,
    row: SectionRow,
    today: date,
    *,
    own: bool,
    summary: RecordDocument | None,
) -> EntryView:
    parts = _Parts()
    add = parts.add
    doctor: str | None = None
    extra: dict[str, object] = {}
    match row:
        case Diagnosis():
            title = f"Диагноз {row.icd10_code}"
            add("Код по МКБ-10", row.icd10_code)
            add("Диагноз", row.name)
            add("Дата установления", _d(row.set_on))
            add("Врач", row.doctor_name)
            add("Медицинская организация", row.organisation_name)
            resolved = f"снят ({_d(row.resolved_on)})" if row.resolved_on else "снят"
            add("Статус", "активен" if row.status == "active" else resolved)
            add("Примечание", row.note)
            doctor = row.doctor_name
        case Medication():
            title = row.name
            add("Препарат", row.name)
            add("Дозировка", row.dose)
            add("Как принимать", row.instructions)
            add("Курс", _course(row))
            add("Сейчас", "принимаете" if is_current(row, today) else "курс завершён")
            add("Назначил", row.prescribed_by)
            doctor = row.prescribed_by
        case Vaccination():
            title = f"Прививка: {row.vaccine}"
            add("Вакцина", row.vaccine)
            add("Дата", _d(row.given_on))
            add("Номер дозы", row.dose_number)
            add("Реакция", row.reaction or "не отмечена")
            add("Медицинская организация", row.organisation_name)
        case Hospitalisation():
            title = "Госпитализация"
            add("Поступление", _d(row.admitted_on))
            add("Выписка", _d(row.discharged_on) if row.discharged_on else "ещё в стационаре")
            add("Медицинская организация", row.organisation_name)
            add("Отделение", row.department)
            add("Причина", row.reason)
            add("Исход", row.outcome)
            if summary is not None:
                doctor = summary.author_name
                extra["body_title"] = "Выписной эпикриз"
                extra["body"] = summary.body
                if summary.storage_key is not None:
                    extra["file"] = FileLink(summary.id, "Скачать выписной эпикриз")
        case Procedure():
            title = row.name
            add("Вид", PROCEDURE_LABELS.get(row.kind, row.kind))
            add("Название", row.name)
            add("Дата", _d(row.performed_on))
            add("Медицинская организация", row.organisation_name)
            add("Результат", row.result)
        case Screening():
            title = row.programme or "Скрининг"
            add("Программа", row.programme)
            add("Показатель", row.indicator)
            add("Значение", row.value)
            add("Оценка", row.interpretation)
            add("Дата", _d(row.measured_on))
        case RecordVisit():
            title = f"Приём: {row.specialty}"
            add("Дата", _d(row.visited_on))
            add("Врач", row.doctor_name)
            add("Специальность", row.specialty)
            add("Медицинская организация", row.organisation_name)
            add(VISIT_NOTE_LABELS.get(row.note_kind or "", "Заключение"), row.conclusion)
            doctor = row.doctor_name
        case RecordDocument():
            title = row.title
            add("Вид документа", DOCUMENT_KIND_LABELS.get(row.kind, row.kind))
            add("Название", row.title)
            add("Дата документа", _d(row.document_date))
            add("Автор", row.author_name)
            add("Медицинская организация", row.organisation_name)
            if row.storage_key is not None:
                add("Файл", _file_summary(row))
                extra["file"] = FileLink(row.id, "Скачать файл")
            if row.body:
                extra["body"] = row.body
            doctor = row.author_name
    return EntryView(
        section=section,
        entry_id=row.id,
        title=title,
        fields=tuple(parts.fields),
        source_note=source_note(row, doctor, own=own),
        body_title=extra.get("body_title"),  # type: ignore[arg-type]
        body=extra.get("body"),  # type: ignore[arg-type]
        file=extra.get("file"),  # type: ignore[arg-type]
    )


_KIND_BY_MIME = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}
_EXTENSION_BY_MIME = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} Б"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} КБ".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} МБ".replace(".", ",")


def _file_summary(document: RecordDocument) -> str:
    kind = _KIND_BY_MIME.get(document.mime_type or "", "файл")
    return f"{kind}, {_human_size(document.size)}" if document.size is not None else kind


_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')


def _file_name(document: RecordDocument) -> str:
    """The name the file is sent under: the one it came with, else its title and date."""
    if document.file_name:
        return document.file_name
    extension = _EXTENSION_BY_MIME.get(document.mime_type or "", "bin")
    stem = _UNSAFE.sub("", f"{document.title} {_d(document.document_date)}").strip()
    return f"{stem or 'документ'}.{extension}"
