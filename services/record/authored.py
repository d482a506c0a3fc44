"""What a doctor writes into a patient's record, on a card opened with a step-up.

The doctor is a ``DoctorPrincipal`` whose ``acting_for`` is the patient (the card
the doctor opened: services.clinic). Every use case asks the access rule for
``WRITE_RECORD`` at that moment — a confirmed doctor of the patient's
organisation with a live step-up for this card — writes the entry with its
author (``source`` «doctor», ``author_staff_id``, the doctor's name and
organisation, ``created_at``), and journals it in the same unit of work. The
patient then reads each entry in its section with «добавлено: врач Соколова
М. А., 03.12.2026» (services.record.sections).

* a diagnosis by its МКБ-10 code (found with ``icd10_search``), or one resolved;
* a prescription (name, dose, course) in «Лекарства»;
* a treatment plan or an anamnesis note in «Посещения врачей»;
* a referral to a specialty, which booking then accepts (``ReferralRepo.usable``);
* a conclusion (diagnosis, findings, recommendations, follow-up): read and
  recorded in one unit, rendered and signed in the CPU pool with no transaction
  open, stored in a second unit as a document of «Выписки и заключения», with a
  push to the patient (``Conclusions``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.core import audit, notify
from services.core.access import (
    Decision,
    DoctorPrincipal,
    Permission,
    actor_of,
    journal,
    require,
)
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.journal import short_name
from services.core.work import Work, in_unit
from services.record.pdf import Entry, ExtractDocument, PersonData, Section, render_extract
from services.record.sections import icd10_name, msk_today
from storage.models import Diagnosis, Medication, RecordDocument, RecordVisit, Referral
from storage.uow import UnitOfWork

__all__ = [
    "NOTE_KINDS",
    "Author",
    "ConclusionDraft",
    "Conclusions",
    "DoctorEntries",
    "IssuedConclusion",
    "check_text",
]

log = logging.getLogger(__name__)

NOTE_KINDS = {"plan": "План лечения", "anamnesis": "Анамнез"}
REFERRAL_DAYS = 30
TEXT_LIMIT = 2000
SHORT_LIMIT = 200

MSG_NO_RECORD = "Медицинская карта пациента ещё не открыта: вносить в неё записи пока нельзя."
MSG_CODE_UNKNOWN = (
    "Такого кода нет в справочнике МКБ-10. Найдите диагноз по коду или словам и выберите его "
    "из списка."
)
MSG_NO_DIAGNOSIS = "Такого активного диагноза в карте нет. Выберите диагноз из списка."
MSG_NO_SPECIALTY = "Такой специальности нет. Выберите специальность из списка."
MSG_NO_SIGNER = "Подпись медицинской организации сейчас недоступна. Попробуйте позже."
MSG_FAILED = "Заключение не удалось подписать. Попробуйте ещё раз немного позже."
MSG_PUSH_CONCLUSION = (
    "Врач {doctor} выдал(а) вам заключение. Оно подписано электронной подписью медицинской "
    "организации и лежит в разделе «Моя медкарта» → «Выписки и заключения»."
)


def check_text(text: str | None, what: str, *, limit: int = TEXT_LIMIT) -> str:
    """One line or paragraph a doctor typed: not empty, not too long (else asked again)."""
    value = " ".join((text or "").split()) if limit <= SHORT_LIMIT else (text or "").strip()
    if not value:
        raise ValidationError(f"Напишите {what}.")
    if len(value) > limit:
        raise ValidationError(f"Слишком длинный текст: не больше {limit} символов.")
    return value


@dataclass(frozen=True)
class Author:
    """Who writes: «Соколова М. А.», the specialty («терапевт») and the organisation."""

    staff_id: int
    name: str
    specialty: str
    organisation: str


@dataclass(frozen=True)
class ConclusionDraft:
    icd10_code: str
    findings: str
    recommendations: str
    follow_up: str


@dataclass(frozen=True)
class PreparedConclusion:
    patient_account_id: int
    author: Author
    diagnosis: str
    draft: ConclusionDraft
    document: ExtractDocument
    file_name: str
    title: str
    body: str


@dataclass(frozen=True)
class IssuedConclusion:
    document_id: int
    file_name: str
    signed: bytes


def _d(day: date) -> str:
    return day.strftime("%d.%m.%Y")


class DoctorEntries:
    """A doctor's entries on an open card; every public method is one use case."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def _write(self, doctor: DoctorPrincipal, action: str, **details: Any) -> Decision:
        decision = await require(
            self.uow,
            self.ctx,
            doctor,
            doctor.subject_account_id,
            Permission.WRITE_RECORD,
            action=action,
            **details,
        )
        if await self.uow.record.records.for_account(decision.subject_account_id) is None:
            raise DomainError(MSG_NO_RECORD)
        return decision

    async def _read(self, doctor: DoctorPrincipal, action: str) -> Decision:
        return await require(
            self.uow,
            self.ctx,
            doctor,
            doctor.subject_account_id,
            Permission.READ_RECORD,
            action=action,
        )

    async def author(self, doctor: DoctorPrincipal) -> Author:
        staff = await self.uow.clinic.staff.get(doctor.staff_id)
        names = await self.uow.clinic.staff.names([doctor.staff_id])
        organisation = await self.uow.clinic.organisations.get(doctor.organisation_id)
        specialty = ""
        if staff is not None and staff.specialty:
            row = await self.uow.booking.catalog.specialty(staff.specialty)
            specialty = row.name if row is not None else staff.specialty
        return Author(
            staff_id=doctor.staff_id,
            name=short_name(names.get(doctor.staff_id, "")),
            specialty=specialty or "врач",
            organisation=organisation.name if organisation is not None else "",
        )

    async def _journal(
        self, doctor: DoctorPrincipal, decision: Decision, action: str, **details: Any
    ) -> None:
        await journal(
            self.uow, self.ctx, doctor, decision.subject_account_id, decision, action, **details
        )

    # -- diagnoses -------------------------------------------------------------------------

    async def add_diagnosis(
        self, doctor: DoctorPrincipal, code: str, note: str | None = None
    ) -> int:
        """A diagnosis by its МКБ-10 code (one of the shipped subset), active from today."""
        decision = await self._write(doctor, "record.doctor.diagnosis.add")
        code = code.strip().upper()
        name = await icd10_name(self.uow, code)
        if name is None:
            raise ValidationError(MSG_CODE_UNKNOWN)
        author = await self.author(doctor)
        row = Diagnosis(
            account_id=decision.subject_account_id,
            icd10_code=code,
            name=name,
            set_on=msk_today(self.ctx),
            doctor_name=author.name,
            organisation_name=author.organisation,
            status="active",
            note=note,
            source="doctor",
            author_staff_id=doctor.staff_id,
            created_at=self.now,
        )
        await self.uow.record.sections.add(row)
        await self._journal(doctor, decision, "record.doctor.diagnosis.add", entry_id=row.id)
        return row.id

    async def active_diagnoses(self, doctor: DoctorPrincipal) -> list[tuple[int, str]]:
        """The card's active diagnoses, to choose one to resolve (journaled as a view)."""
        decision = await self._read(doctor, "record.section.view")
        rows = await self.uow.record.sections.active_diagnoses(decision.subject_account_id)
        await self._journal(doctor, decision, "record.section.view", section="diagnoses", page=1)
        return [(row.id, f"{row.icd10_code} · {row.name}"[:60]) for row in rows]

    async def resolve_diagnosis(self, doctor: DoctorPrincipal, diagnosis_id: int) -> str:
        """Mark an active diagnosis resolved today; its code and name for the answer."""
        decision = await self._write(
            doctor, "record.doctor.diagnosis.resolve", entry_id=diagnosis_id
        )
        row = await self.uow.record.sections.diagnosis(decision.subject_account_id, diagnosis_id)
        if row is None or row.status != "active":
            raise NotFoundError(MSG_NO_DIAGNOSIS)
        author = await self.author(doctor)
        row.status = "resolved"
        row.resolved_on = msk_today(self.ctx)
        resolved = f"Снят: врач {author.name}, {_d(row.resolved_on)}"
        row.note = f"{row.note}\n{resolved}" if row.note else resolved
        await self._journal(doctor, decision, "record.doctor.diagnosis.resolve", entry_id=row.id)
        return f"{row.icd10_code} {row.name}"

    # -- prescriptions, notes, referrals ----------------------------------------------------

    async def add_prescription(
        self, doctor: DoctorPrincipal, name: str, dose: str, instructions: str, days: int | None
    ) -> int:
        """A prescription from today: `days` of the course (None: without an end date)."""
        decision = await self._write(doctor, "record.doctor.prescription.add")
        name = check_text(name, "название препарата", limit=SHORT_LIMIT)
        dose = check_text(dose, "дозировку", limit=100)
        instructions = check_text(instructions, "как принимать", limit=500)
        if days is not None and not 1 <= days <= 365:
            raise ValidationError("Курс — от 1 до 365 дней.")
        today = msk_today(self.ctx)
        author = await self.author(doctor)
        row = Medication(
            account_id=decision.subject_account_id,
            name=name,
            dose=dose,
            instructions=instructions,
            start_on=today,
            end_on=today + timedelta(days=days - 1) if days is not None else None,
            prescribed_by=author.name,
            source="doctor",
            author_staff_id=doctor.staff_id,
            created_at=self.now,
        )
        await self.uow.record.sections.add(row)
        await self._journal(doctor, decision, "record.doctor.prescription.add", entry_id=row.id)
        return row.id

    async def add_note(self, doctor: DoctorPrincipal, kind: str, text: str) -> int:
        """A treatment plan or an anamnesis note, in «Посещения врачей» under today."""
        if kind not in NOTE_KINDS:
            raise ValidationError("Выберите, что вы записываете: план лечения или анамнез.")
        decision = await self._write(doctor, "record.doctor.note.add", kind=kind)
        text = check_text(text, "текст записи")
        author = await self.author(doctor)
        row = RecordVisit(
            account_id=decision.subject_account_id,
            visited_on=msk_today(self.ctx),
            doctor_name=author.name,
            specialty=author.specialty,
            organisation_name=author.organisation,
            conclusion=text,
            note_kind=kind,
            source="doctor",
            author_staff_id=doctor.staff_id,
            created_at=self.now,
        )
        await self.uow.record.sections.add(row)
        await self._journal(doctor, decision, "record.doctor.note.add", entry_id=row.id, kind=kind)
        return row.id

    async def specialties(self, doctor: DoctorPrincipal) -> list[tuple[str, str]]:
        """Where a referral can send the patient: (code, «Кардиолог»), those needing one first."""
        await self._read(doctor, "record.doctor.referral.add")
        rows = await self.uow.booking.catalog.specialties()
        ordered = sorted(rows, key=lambda s: (not s.referral_required, s.position, s.code))
        return [(s.code, s.name.capitalize()) for s in ordered]

    async def add_referral(
        self, doctor: DoctorPrincipal, specialty_code: str, reason: str | None
    ) -> str:
        """A referral to a specialty, valid REFERRAL_DAYS; the specialty's name «кардиологу»."""
        decision = await self._write(doctor, "record.doctor.referral.add", specialty=specialty_code)
        specialty = await self.uow.booking.catalog.specialty(specialty_code)
        if specialty is None:
            raise NotFoundError(MSG_NO_SPECIALTY)
        reason = check_text(reason, "причину направления", limit=500) if reason else None
        today = msk_today(self.ctx)
        author = await self.author(doctor)
        row = await self.uow.booking.referrals.add(
            Referral(
                account_id=decision.subject_account_id,
                specialty_code=specialty.code,
                issued_on=today,
                valid_until=today + timedelta(days=REFERRAL_DAYS),
                doctor_name=author.name,
                organisation_name=author.organisation,
                reason=reason,
                source="doctor",
                author_staff_id=doctor.staff_id,
                created_at=self.now,
            )
        )
        await self._journal(
            doctor,
            decision,
            "record.doctor.referral.add",
            referral_id=row.id,
            specialty=specialty.code,
        )
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=decision.subject_account_id,
            text=(
                f"Врач {author.name} выдал(а) вам направление к врачу: {specialty.name}. "
                f"Оно действует до {_d(row.valid_until)}. Записаться можно в разделе "
                "«Записаться к врачу»."
            ),
            kind="record.referral",
            buttons=[notify.Button("Открыть", notify.ButtonAction.MENU)],
        )
        return specialty.to_whom

    # -- the conclusion ------------------------------------------------------------------

    async def begin_conclusion(
        self, doctor: DoctorPrincipal, draft: ConclusionDraft
    ) -> PreparedConclusion:
        """Check the access and the diagnosis, and read what goes into the PDF."""
        signer = self.ctx.signer
        if signer is None:
            raise DomainError(MSG_NO_SIGNER)
        decision = await self._write(doctor, "record.doctor.conclusion.add")
        name = await icd10_name(self.uow, draft.icd10_code)
        if name is None:
            raise ValidationError(MSG_CODE_UNKNOWN)
        record = await self.uow.record.records.for_account(decision.subject_account_id)
        assert record is not None  # _write checked it
        author = await self.author(doctor)
        now = self.now
        diagnosis = f"{draft.icd10_code} — {name}"
        full_name = " ".join(
            p for p in (record.last_name, record.first_name, record.middle_name) if p
        )
        title = f"Заключение врача: {author.specialty}"
        document = ExtractDocument(
            title=f"Заключение врача ({author.specialty})",
            organisation=author.organisation or signer.organisation,
            person=PersonData(full_name, record.birth_date, record.snils, record.policy_number),
            issued_at=now,
            sections=(
                Section("Диагноз", (Entry(diagnosis),)),
                Section("Результаты осмотра", text=draft.findings),
                Section("Рекомендации", text=draft.recommendations),
                Section("Повторный приём", text=draft.follow_up),
            ),
            extra={"Врач": f"{author.name}, {author.specialty}"},
        )
        await self._journal(doctor, decision, "record.doctor.conclusion.begin")
        body = (
            f"Диагноз: {diagnosis}\n\n"
            f"Результаты осмотра: {draft.findings}\n\n"
            f"Рекомендации: {draft.recommendations}\n\n"
            f"Повторный приём: {draft.follow_up}"
        )
        return PreparedConclusion(
            patient_account_id=decision.subject_account_id,
            author=author,
            diagnosis=diagnosis,
            draft=draft,
            document=document,
            file_name=f"Заключение от {_d(msk_today(self.ctx))}.pdf",
            title=title[:300],
            body=body,
        )

    async def finish_conclusion(
        self, doctor: DoctorPrincipal, prepared: PreparedConclusion, signed: bytes
    ) -> int:
        """Store the signed PDF in «Выписки и заключения» and tell the patient (asked again)."""
        decision = await self._write(doctor, "record.doctor.conclusion.add")
        store = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_FAILED)
        key = await store.put(signed)
        self.uow.after_rollback(functools.partial(store.delete, key))
        row = RecordDocument(
            account_id=prepared.patient_account_id,
            kind="conclusion",
            title=prepared.title,
            document_date=msk_today(self.ctx),
            body=prepared.body,
            author_name=prepared.author.name,
            organisation_name=prepared.author.organisation,
            source="doctor",
            author_staff_id=doctor.staff_id,
            storage_key=key,
            sha256=hashlib.sha256(signed).hexdigest(),
            size=len(signed),
            mime_type="application/pdf",
            file_name=prepared.file_name,
            created_at=self.now,
        )
        await self.uow.record.sections.add(row)
        await self._journal(
            doctor,
            decision,
            "record.doctor.conclusion.add",
            document_id=row.id,
        )
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=prepared.patient_account_id,
            text=MSG_PUSH_CONCLUSION.format(doctor=prepared.author.name),
            kind="record.conclusion",
            buttons=[notify.Button("Открыть", notify.ButtonAction.MENU)],
        )
        return row.id

    async def conclusion_failed(
        self, doctor: DoctorPrincipal, prepared: PreparedConclusion
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(doctor),
            action="record.doctor.conclusion.add",
            outcome="failed",
            actor_account_id=doctor.account_id,
            subject_account_id=prepared.patient_account_id,
        )


def sign_conclusion(document: ExtractDocument, signer: Any) -> bytes:
    """Render and sign: the CPU step (run in ``ctx.cpu``)."""
    return bytes(signer.sign(render_extract(document), reason="Заключение врача"))


class Conclusions:
    """«Заключение» across its units of work, with the signing between them."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def issue(self, doctor: DoctorPrincipal, draft: ConclusionDraft) -> IssuedConclusion:
        signer = self.ctx.signer
        if signer is None:
            raise DomainError(MSG_NO_SIGNER)
        prepared = await in_unit(
            self.work, lambda uow: DoctorEntries(uow, self.ctx).begin_conclusion(doctor, draft)
        )
        try:
            signed = await self.ctx.cpu.run(sign_conclusion, prepared.document, signer)
        except Exception:
            log.exception("conclusion for staff %s: signing failed", doctor.staff_id)
            await in_unit(
                self.work,
                lambda uow: DoctorEntries(uow, self.ctx).conclusion_failed(doctor, prepared),
            )
            raise DomainError(MSG_FAILED) from None
        document_id = await in_unit(
            self.work,
            lambda uow: DoctorEntries(uow, self.ctx).finish_conclusion(doctor, prepared, signed),
        )
        return IssuedConclusion(document_id, prepared.file_name, signed)
