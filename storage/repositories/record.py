"""Repositories: Medical records, their sections and the МКБ-10 codes.

They flush when they need ids and never commit.

A page of a section is one range of its (account_id, date, id) index (migration
0010), newest first, read with LIMIT/OFFSET; its size is one COUNT over the
same range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, case, exists, func, or_, select

from storage.models import (
    ColleagueExtract,
    Diagnosis,
    Hospitalisation,
    Icd10Code,
    InsurancePolicy,
    MedicalRecord,
    Medication,
    Procedure,
    RecordDocument,
    RecordVisit,
    Screening,
    Vaccination,
)
from storage.repositories.base import Repo

SectionRow = (
    Diagnosis
    | Medication
    | Vaccination
    | Hospitalisation
    | Procedure
    | Screening
    | RecordVisit
    | RecordDocument
)
SectionModel = (
    type[Diagnosis]
    | type[Medication]
    | type[Vaccination]
    | type[Hospitalisation]
    | type[Procedure]
    | type[Screening]
    | type[RecordVisit]
    | type[RecordDocument]
)

# Each section: its table and the date its index is ordered by.
SECTION_MODELS: dict[str, tuple[SectionModel, Any]] = {
    "diagnoses": (Diagnosis, Diagnosis.set_on),
    "medications": (Medication, Medication.start_on),
    "vaccinations": (Vaccination, Vaccination.given_on),
    "hospitalisations": (Hospitalisation, Hospitalisation.admitted_on),
    "procedures": (Procedure, Procedure.performed_on),
    "screenings": (Screening, Screening.measured_on),
    "visits": (RecordVisit, RecordVisit.visited_on),
    # «Мои документы»: the documents the person added themself.
    "documents": (RecordDocument, RecordDocument.document_date),
}


def _spec(section: str) -> tuple[SectionModel, Any]:
    try:
        return SECTION_MODELS[section]
    except KeyError:
        raise ValueError(f"unknown record section {section!r}") from None


def _filters(section: str, model: SectionModel, account_id: int) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [model.account_id == account_id]
    if section == "documents":
        conditions.append(RecordDocument.source == "patient")
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class MedicalRecordRepo(Repo):
    async def for_account(self, account_id: int) -> MedicalRecord | None:
        stmt = select(MedicalRecord).where(MedicalRecord.account_id == account_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, record: MedicalRecord) -> MedicalRecord:
        self.session.add(record)
        await self.session.flush()
        return record


class SectionRepo(Repo):
    """Pages of the record's sections (diagnoses, medications …), one entry, documents."""

    async def count(self, section: str, account_id: int) -> int:
        model, _ = _spec(section)
        stmt = select(func.count()).select_from(model).where(*_filters(section, model, account_id))
        return int((await self.session.execute(stmt)).scalar_one())

    async def page(
        self, section: str, account_id: int, *, limit: int, offset: int, today: date
    ) -> Sequence[SectionRow]:
        """Entries of one page, newest first (medications: the current ones first)."""
        model, when = _spec(section)
        order: list[Any] = []
        if section == "medications":
            current = or_(Medication.end_on.is_(None), Medication.end_on >= today)
            order.append(case((current, 0), else_=1))
        order += [when.desc(), model.id.desc()]
        stmt = (
            select(model)
            .where(*_filters(section, model, account_id))
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        return cast(list[SectionRow], list((await self.session.execute(stmt)).scalars().all()))

    async def entry(self, section: str, account_id: int, entry_id: int) -> SectionRow | None:
        """One entry of the section, only if it is in the record of `account_id`."""
        model, _ = _spec(section)
        stmt = select(model).where(model.id == entry_id, *_filters(section, model, account_id))
        return cast(SectionRow | None, (await self.session.execute(stmt)).scalar_one_or_none())

    async def any_entries(self, account_id: int) -> bool:
        """Is there anything at all in the sections of the record (one query)?"""
        checks = [
            exists().where(*_filters(section, model, account_id))
            for section, (model, _) in SECTION_MODELS.items()
        ]
        checks.append(exists().where(InsurancePolicy.account_id == account_id))
        stmt = select(or_(*checks))
        return bool((await self.session.execute(stmt)).scalar_one())

    async def policies(self, account_id: int) -> Sequence[InsurancePolicy]:
        """ОМС first, then ДМС; within a kind the newest first."""
        stmt = (
            select(InsurancePolicy)
            .where(InsurancePolicy.account_id == account_id)
            .order_by(InsurancePolicy.kind.desc(), InsurancePolicy.id.desc())
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def document(self, account_id: int, document_id: int) -> RecordDocument | None:
        """A document of the record of `account_id` (of any source)."""
        stmt = select(RecordDocument).where(
            RecordDocument.id == document_id, RecordDocument.account_id == account_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def has_diagnoses(self, account_id: int) -> bool:
        stmt = select(exists().where(Diagnosis.account_id == account_id))
        return bool((await self.session.execute(stmt)).scalar_one())

    async def add(self, *entries: SectionRow | InsurancePolicy) -> None:
        """Add entries (the ids are set on return)."""
        self.session.add_all(entries)
        await self.session.flush()

    # -- МКБ-10 -------------------------------------------------------------------

    async def icd10_name(self, code: str) -> str | None:
        row = await self.session.get(Icd10Code, code)
        return row.name if row is not None else None

    async def icd10_count(self) -> int:
        stmt = select(func.count()).select_from(Icd10Code)
        return int((await self.session.execute(stmt)).scalar_one())

    async def icd10_by_prefix(self, prefix: str, limit: int) -> Sequence[Icd10Code]:
        stmt = (
            select(Icd10Code)
            .where(Icd10Code.code.like(_escape_like(prefix) + "%", escape="\\"))
            .order_by(Icd10Code.code)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def icd10_by_words(self, words: Sequence[str], limit: int) -> Sequence[Icd10Code]:
        """Codes whose name holds every word, in any case.

        PostgreSQL's ILIKE folds every letter; SQLite folds ASCII only, so each
        word is also looked for in lower case and capitalised.
        """
        conditions = []
        for word in words:
            forms = {word, word.lower(), word.capitalize()}
            conditions.append(
                or_(
                    *(
                        Icd10Code.name.ilike("%" + _escape_like(form) + "%", escape="\\")
                        for form in sorted(forms)
                    )
                )
            )
        stmt = select(Icd10Code).where(*conditions).order_by(Icd10Code.code).limit(limit)
        return list((await self.session.execute(stmt)).scalars().all())

    # -- what a doctor writes ----------------------------------------------------------

    async def active_diagnoses(self, account_id: int, limit: int = 30) -> list[Diagnosis]:
        """The record's active diagnoses, newest first (for «Снять диагноз»)."""
        stmt = (
            select(Diagnosis)
            .where(Diagnosis.account_id == account_id, Diagnosis.status == "active")
            .order_by(Diagnosis.set_on.desc(), Diagnosis.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def diagnosis(self, account_id: int, diagnosis_id: int) -> Diagnosis | None:
        stmt = select(Diagnosis).where(
            Diagnosis.id == diagnosis_id, Diagnosis.account_id == account_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def signed_conclusions(self, account_id: int, limit: int = 20) -> list[RecordDocument]:
        """The record's conclusions that have a file, newest first (to send to a colleague)."""
        stmt = (
            select(RecordDocument)
            .where(
                RecordDocument.account_id == account_id,
                RecordDocument.kind == "conclusion",
                RecordDocument.storage_key.is_not(None),
            )
            .order_by(RecordDocument.document_date.desc(), RecordDocument.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())


class ColleagueExtractRepo(Repo):
    """Signed PDFs doctors sent to colleagues («Входящие выписки»)."""

    async def add(self, row: ColleagueExtract) -> ColleagueExtract:
        self.session.add(row)
        await self.session.flush()
        return row

    async def count_for(self, recipient_staff_id: int) -> int:
        stmt = select(func.count()).where(ColleagueExtract.recipient_staff_id == recipient_staff_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def page_for(
        self, recipient_staff_id: int, *, offset: int, limit: int
    ) -> list[ColleagueExtract]:
        stmt = (
            select(ColleagueExtract)
            .where(ColleagueExtract.recipient_staff_id == recipient_staff_id)
            .order_by(ColleagueExtract.sent_at.desc(), ColleagueExtract.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def first_for_patient(
        self, recipient_staff_id: int, patient_account_id: int
    ) -> int | None:
        """The first extract of this patient sent to this recipient, if any."""
        stmt = (
            select(ColleagueExtract.id)
            .where(
                ColleagueExtract.recipient_staff_id == recipient_staff_id,
                ColleagueExtract.patient_account_id == patient_account_id,
            )
            .order_by(ColleagueExtract.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def one_for(self, recipient_staff_id: int, extract_id: int) -> ColleagueExtract | None:
        """One extract, only when it was sent to this recipient."""
        stmt = select(ColleagueExtract).where(
            ColleagueExtract.id == extract_id,
            ColleagueExtract.recipient_staff_id == recipient_staff_id,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
