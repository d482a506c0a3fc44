"""The person's electronic medical record: its sections, lab results and extracts.

Every row of a section belongs to one account (``account_id``: whose record it
is) and says where it came from (``source``): ``doctor`` (written by a doctor,
``author_staff_id`` when the doctor is a staff member here), ``lab`` (sent by a
laboratory), ``patient`` (added by the person, shown «добавлено вами»), or
``import`` (brought over from the organisation's own system, the demo's seed).

Files (a result's PDF, a discharge summary, a signed extract, a document the
person added) are in the file store, named by ``storage_key``; the rows keep
their digest, size and type.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base

ENTRY_SOURCES = ("doctor", "lab", "patient", "import")
POLICY_KINDS = ("oms", "dms")
DIAGNOSIS_STATUSES = ("active", "resolved")
PROCEDURE_KINDS = ("operation", "imaging", "examination")
RESULT_STATUSES = ("preliminary", "final")
FLAGS = ("high", "low", "normal", "abnormal")
DOCUMENT_KINDS = ("conclusion", "discharge_summary", "extract", "result", "other")
EXTRACT_KINDS = ("period", "discharge", "lab_summary")
EXTRACT_STATUSES = ("pending", "done", "failed")
# What a doctor's note in «Посещения врачей» is (None: the visit's own conclusion).
VISIT_NOTE_KINDS = ("plan", "anamnesis")
COLLEAGUE_CONTENTS = ("extract", "conclusion")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class MedicalRecord(Base):
    """A person's electronic medical record; opened by an application, filled by later work."""

    __tablename__ = "medical_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL")
    )
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    snils: Mapped[str] = mapped_column(String(11), index=True)
    policy_number: Mapped[str] = mapped_column(String(16), index=True)
    policy_end: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Icd10Code(Base):
    """One code of МКБ-10 with its Russian name (the shipped subset, loaded by migration)."""

    __tablename__ = "icd10_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))


class InsurancePolicy(Base):
    """An ОМС or ДМС policy; ``valid_until`` None means «бессрочный»."""

    __tablename__ = "insurance_policies"
    __table_args__ = (CheckConstraint(_in("kind", POLICY_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(32))
    insurer: Mapped[str] = mapped_column(String(300))
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class Diagnosis(Base):
    """A diagnosis (МКБ-10), active or resolved."""

    __tablename__ = "diagnoses"
    __table_args__ = (
        CheckConstraint(_in("status", DIAGNOSIS_STATUSES), name="status"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_diagnoses_account_order", "account_id", "set_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    icd10_code: Mapped[str] = mapped_column(String(8))
    # The code's name when it was set (the shipped subset may not hold every code).
    name: Mapped[str] = mapped_column(String(300))
    set_on: Mapped[date] = mapped_column(Date)
    doctor_name: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="active")
    resolved_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class Medication(Base):
    """A prescription: name, dose, how to take it, the course; current while not ended."""

    __tablename__ = "medications"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_medications_account_order", "account_id", "start_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str] = mapped_column(String(100))
    instructions: Mapped[str] = mapped_column(String(500))
    start_on: Mapped[date] = mapped_column(Date)
    # None: no end set (a long-term prescription).
    end_on: Mapped[date | None] = mapped_column(Date)
    prescribed_by: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class Vaccination(Base):
    """A vaccination: vaccine, date, dose number, reaction."""

    __tablename__ = "vaccinations"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_vaccinations_account_order", "account_id", "given_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    vaccine: Mapped[str] = mapped_column(String(200))
    given_on: Mapped[date] = mapped_column(Date)
    dose_number: Mapped[int | None] = mapped_column(Integer)
    reaction: Mapped[str | None] = mapped_column(String(300))
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime]


class RecordDocument(Base):
    """A document of the record: a conclusion, a discharge summary, an extract, one's own.

    ``source`` ``patient`` is a document the person added themself («добавлено
    вами»); doctors' conclusions and discharge summaries are ``doctor`` or
    ``import``; signed extracts the bot built on request are ``extract`` kind.
    """

    __tablename__ = "record_documents"
    __table_args__ = (
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_record_documents_account_order", "account_id", "document_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(300))
    document_date: Mapped[date] = mapped_column(Date)
    # The text of a conclusion or summary (findings, recommendations), when it has one.
    body: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    mime_type: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Hospitalisation(Base):
    """A stay in hospital, with its discharge summary (a record document) when there is one."""

    __tablename__ = "hospitalisations"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_hospitalisations_account_order", "account_id", "admitted_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    admitted_on: Mapped[date] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    organisation_name: Mapped[str] = mapped_column(String(300))
    department: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str | None] = mapped_column(String(300))
    summary_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("record_documents.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime]


class Procedure(Base):
    """An operation, an imaging study or another examination, with its result."""

    __tablename__ = "procedures"
    __table_args__ = (
        CheckConstraint(_in("kind", PROCEDURE_KINDS), name="kind"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_procedures_account_order", "account_id", "performed_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    performed_on: Mapped[date] = mapped_column(Date)
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    result: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime]


class Screening(Base):
    """A screening or диспансеризация indicator: its value and what it means."""

    __tablename__ = "screenings"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_screenings_account_order", "account_id", "measured_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The programme it belongs to, e.g. «Диспансеризация 2025».
    programme: Mapped[str | None] = mapped_column(String(200))
    indicator: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100))
    interpretation: Mapped[str | None] = mapped_column(String(300))
    measured_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[datetime]


class RecordVisit(Base):
    """A visit to a doctor that happened: date, doctor, specialty, organisation, conclusion.

    (Booked visits to come are the booking area's; this is the record's history.)
    """

    __tablename__ = "record_visits"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_record_visits_account_order", "account_id", "visited_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    visited_on: Mapped[date] = mapped_column(Date)
    doctor_name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    organisation_name: Mapped[str] = mapped_column(String(300))
    conclusion: Mapped[str | None] = mapped_column(Text)
    # A doctor's note written on the card: «plan» (план лечения) or «anamnesis» (анамнез).
    note_kind: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class Referral(Base):
    """A referral (направление) to a specialty, issued by a doctor; booking spends it.

    ``used_by_appointment_id`` is the visit booked with it; a cancelled visit
    gives it back.
    """

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_referrals_account_specialty", "account_id", "specialty_code", "valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialties.code"))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    doctor_name: Mapped[str] = mapped_column(String(200))
    organisation_name: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    used_by_appointment_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class LabResult(Base):
    """A laboratory report (FHIR DiagnosticReport): one test with its analytes.

    A laboratory's report id is stored once per laboratory (``api_client_id``,
    ``report_identifier``): the same report sent again is the same row, and a
    final report replaces the preliminary one in place. ``seen_at`` is when the
    person first opened it (new until then). ``sensitive`` results are never
    shown to a relative unless the patient allowed it.
    """

    __tablename__ = "lab_results"
    __table_args__ = (
        CheckConstraint(_in("status", RESULT_STATUSES), name="status"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        UniqueConstraint("api_client_id", "report_identifier", name="uq_lab_results_report"),
        Index("ix_lab_results_account_order", "account_id", "issued_at", "id"),
        Index("ix_lab_results_account_test", "account_id", "test_code", "issued_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The laboratory that sent it (None: imported with the record).
    api_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_clients.id", ondelete="SET NULL")
    )
    report_identifier: Mapped[str] = mapped_column(String(128))
    # The test (panel) code, LOINC where there is one, and its Russian name.
    test_code: Mapped[str] = mapped_column(String(32))
    test_name: Mapped[str] = mapped_column(String(200))
    ordered_by: Mapped[str | None] = mapped_column(String(200))
    laboratory_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    collected_at: Mapped[datetime | None]
    issued_at: Mapped[datetime]
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    lab_comment: Mapped[str | None] = mapped_column(Text)
    doctor_comment: Mapped[str | None] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    mime_type: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16), default="lab")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LabObservation(Base):
    """One analyte of a result (FHIR Observation): value, unit, reference range, flag.

    ``account_id`` and ``issued_at`` repeat the result's, so an analyte's series
    over time («Динамика») is one range of an index.
    """

    __tablename__ = "lab_observations"
    __table_args__ = (
        CheckConstraint(_in("flag", FLAGS), name="flag"),
        Index("ix_lab_observations_result", "result_id", "position"),
        Index("ix_lab_observations_series", "account_id", "code", "issued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("lab_results.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime]
    position: Mapped[int] = mapped_column(Integer)
    # LOINC where there is one.
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # A number (value_text None), or a text answer («отрицательно»).
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(32))
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)
    ref_text: Mapped[str | None] = mapped_column(String(200))
    flag: Mapped[str | None] = mapped_column(String(16))


class ExtractRequest(Base):
    """A request for a signed extract, and the document it produced (the history of requests)."""

    __tablename__ = "extract_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", EXTRACT_KINDS), name="kind"),
        CheckConstraint(_in("status", EXTRACT_STATUSES), name="status"),
        Index("ix_extract_requests_account_order", "account_id", "requested_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # What it covers: {"from": "2025-01-01", "to": "2026-12-01"} or {"hospitalisation_id": 3}.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Who asked ("account:7"; a relative's or doctor's actor later).
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("record_documents.id", ondelete="SET NULL")
    )
    emailed_at: Mapped[datetime | None]


class ColleagueExtract(Base):
    """A signed PDF from a patient's record that a doctor sent to a colleague.

    The recipient (a doctor of any organisation) opens only this: the file kept
    here (a copy, so what was sent stays as it was) and the covering note, never
    the card. ``document_id`` is the record's document it was made from.
    """

    __tablename__ = "colleague_extracts"
    __table_args__ = (
        CheckConstraint(_in("content", COLLEAGUE_CONTENTS), name="content"),
        Index("ix_colleague_extracts_recipient", "recipient_staff_id", "sent_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    sender_staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    recipient_staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE")
    )
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("record_documents.id", ondelete="SET NULL")
    )
    content: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
