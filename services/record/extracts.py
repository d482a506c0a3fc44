"""«Выписки и заключения»: documents written by doctors, and signed extracts on request.

The list holds the record's conclusions and discharge summaries (written by
doctors or imported with the record) and the extracts built for the person,
newest first, paged in the database. Opening one is READ_RECORD, its file is
DOWNLOAD; both are journaled.

A request («Запросить выписку») is DOWNLOAD and runs in three steps, so that no
transaction is open while the PDF is built and signed (``ExtractRequests``):

1. a unit of work checks the access, records the request (``pending``), reads
   what goes into the PDF into plain dataclasses (services.record.pdf) and
   journals ``extract.request``;
2. the CPU pool renders the PDF and signs it (``ctx.signer``);
3. a second unit stores the signed file (encrypted, ``ctx.gateways.files``),
   adds it to the record as a document of kind ``extract`` (source ``import``:
   it is the organisation's system that issues it, not a doctor or the
   person; the organisation is its ``organisation_name``), marks the request
   ``done`` and journals ``extract.issue``. When step 2 fails the request is
   marked ``failed`` instead and the person is asked to try again.

The e-mail copy, when asked for and the account has an address, is sent after
that with no transaction open, and journaled as ``extract.email``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from services.core import audit
from services.core.access import (
    AccountPrincipal,
    CardUser,
    Decision,
    Permission,
    actor_account_id,
    actor_of,
    authorize,
    require,
)
from services.core.context import AppContext, PdfSigner
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.gateways import Attachment, DeliveryError, FileStore, FileStoreError, mask_email
from services.core.work import Work, in_unit
from services.record.pdf import (
    Analyte,
    Entry,
    ExtractDocument,
    LabBlock,
    PersonData,
    Section,
    render_extract,
)
from services.record.sections import source_note
from storage.models import (
    ExtractRequest,
    Hospitalisation,
    LabObservation,
    LabResult,
    MedicalRecord,
    RecordDocument,
)
from storage.repositories.extracts import ExtractRequestRepo
from storage.uow import UnitOfWork

__all__ = [
    "KIND_LABELS",
    "DocumentDetail",
    "DocumentFile",
    "DocumentItem",
    "ExtractFailed",
    "ExtractOrder",
    "ExtractRequests",
    "ExtractResult",
    "ExtractService",
    "Page",
    "Period",
    "RequestItem",
    "StayChoice",
    "build_signed_pdf",
    "check_period",
    "last_year",
    "parse_day",
    "today_msk",
]

log = logging.getLogger(__name__)

MSK = ZoneInfo("Europe/Moscow")
PAGE_SIZE = 5
# At most this many entries of one section go into an extract.
SECTION_LIMIT = 300
STAYS_LIMIT = 20
EARLIEST = date(1900, 1, 1)

KIND_LABELS = {
    "period": "Выписка из медкарты за период",
    "discharge": "Выписной эпикриз",
    "lab_summary": "Сводка результатов анализов",
}
PDF_TITLES = {
    "period": "Выписка из электронной медицинской карты",
    "discharge": "Выписной эпикриз",
    "lab_summary": "Сводка результатов анализов",
}
FILE_PREFIX = {
    "period": "Выписка из ЭМК",
    "discharge": "Выписной эпикриз",
    "lab_summary": "Сводка анализов",
}
STATUS_LABELS = {
    "pending": "готовится",
    "done": "готова",
    "failed": "не удалось подготовить",
}
DOCUMENT_KIND_LABELS = {
    "conclusion": "Заключение",
    "discharge_summary": "Выписной эпикриз",
    "extract": "Выписка",
    "result": "Результат",
    "other": "Документ",
}
PROCEDURE_LABELS = {
    "operation": "операция",
    "imaging": "лучевая диагностика",
    "examination": "обследование",
}

MSG_NO_RECORD = "Медкарта ещё не открыта: выписку можно будет запросить, когда карту откроют."
MSG_NO_SIGNER = (
    "Подписание выписок сейчас недоступно. Пожалуйста, попробуйте позже или обратитесь "
    "в медицинскую организацию."
)
MSG_FAILED = (
    "Извините, выписку не удалось подготовить. Запрос сохранён в истории. "
    "Пожалуйста, попробуйте ещё раз."
)
MSG_NOT_FOUND = "Документ не найден. Возможно, он был удалён."
MSG_NO_FILE = "У этого документа нет файла для скачивания."
MSG_FILE_UNAVAILABLE = "Файл сейчас недоступен. Пожалуйста, попробуйте позже."
MSG_STAY_NOT_FOUND = "Госпитализация не найдена. Выберите её из списка."
MSG_DATE_FORMAT = "Напишите дату в формате дд.мм.гггг, например 01.02.2025."
MSG_DATE_FUTURE = "Дата не может быть позже сегодняшней."
MSG_DATE_EARLY = "Дата слишком ранняя. Проверьте год."
MSG_END_BEFORE_START = "Дата окончания не может быть раньше даты начала периода."
MAIL_SUBJECT = "Выписка из электронной медицинской карты"


# -- periods and orders -----------------------------------------------------------------


def _d(day: date) -> str:
    return f"{day:%d.%m.%Y}"


@dataclass(frozen=True)
class Period:
    """From `start` (None: from the first entry) to `end`, both days included."""

    start: date | None
    end: date

    @property
    def label(self) -> str:
        if self.start is None:
            return f"за всё время (по {_d(self.end)})"
        return f"с {_d(self.start)} по {_d(self.end)}"

    def to_params(self) -> dict[str, Any]:
        return {"from": self.start.isoformat() if self.start else None, "to": self.end.isoformat()}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Period:
        start = params.get("from")
        return cls(date.fromisoformat(start) if start else None, date.fromisoformat(params["to"]))


def parse_day(text: str) -> date:
    """``дд.мм.гггг`` (dots, or slashes or dashes) as a date; ValidationError otherwise."""
    cleaned = text.strip().replace("/", ".").replace("-", ".")
    parts = cleaned.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
        raise ValidationError(MSG_DATE_FORMAT)
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise ValidationError("Такой даты нет в календаре. " + MSG_DATE_FORMAT) from None


def check_period(start: date | None, end: date, today: date) -> Period:
    """The period if it makes sense (not in the future, start ≤ end); ValidationError otherwise."""
    for day in (start, end):
        if day is None:
            continue
        if day > today:
            raise ValidationError(MSG_DATE_FUTURE)
        if day < EARLIEST:
            raise ValidationError(MSG_DATE_EARLY)
    if start is not None and end < start:
        raise ValidationError(MSG_END_BEFORE_START)
    return Period(start, end)


def today_msk(ctx: AppContext) -> date:
    """Today in Moscow by the service's clock (what periods are checked against)."""
    return ctx.gateways.clock.now().astimezone(MSK).date()


def last_year(today: date) -> Period:
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    return Period(start, today)


@dataclass(frozen=True)
class ExtractOrder:
    """What the person asked for: the kind and its period or hospitalisation."""

    kind: str
    period: Period | None = None
    hospitalisation_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KIND_LABELS:
            raise ValueError(f"unknown extract kind {self.kind!r}")
        if self.kind == "discharge" and self.hospitalisation_id is None:
            raise ValueError("a discharge summary needs a hospitalisation")
        if self.kind != "discharge" and self.period is None:
            raise ValueError("this extract needs a period")

    def params(self) -> dict[str, Any]:
        if self.kind == "discharge":
            return {"hospitalisation_id": self.hospitalisation_id}
        assert self.period is not None
        return self.period.to_params()

    @classmethod
    def from_params(cls, kind: str, params: dict[str, Any]) -> ExtractOrder:
        if kind == "discharge":
            return cls(kind, hospitalisation_id=int(params["hospitalisation_id"]))
        return cls(kind, period=Period.from_params(params))


# -- what the use cases answer ------------------------------------------------------------


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int  # from 0
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 0


@dataclass(frozen=True)
class DocumentItem:
    id: int
    kind: str
    kind_label: str
    title: str
    document_date: date


@dataclass(frozen=True)
class DocumentDetail:
    id: int
    kind: str
    kind_label: str
    title: str
    document_date: date
    author_name: str | None
    organisation_name: str | None
    body: str | None
    has_file: bool
    added_by_you: bool
    # «добавлено: врач Соколова М. А., 03.12.2026» for what a doctor wrote here.
    source_note: str | None = None


@dataclass(frozen=True)
class DocumentFile:
    data: bytes
    file_name: str
    mime_type: str


@dataclass(frozen=True)
class StayChoice:
    id: int
    label: str
    has_summary: bool


@dataclass(frozen=True)
class RequestItem:
    id: int
    kind: str
    kind_label: str
    subject: str  # the period or the hospitalisation, in words
    requested_at: datetime
    status: str
    status_label: str
    document_id: int | None
    emailed: bool


@dataclass(frozen=True)
class Prepared:
    """What step 1 hands to the CPU step and to step 3."""

    request_id: int
    kind: str
    subject_account_id: int
    document: ExtractDocument
    reason: str
    file_name: str
    title: str
    email: str | None


@dataclass(frozen=True)
class ExtractResult:
    request_id: int
    document_id: int
    data: bytes
    file_name: str
    # The masked address the copy went to; None when none was asked for or sent.
    emailed_to: str | None = None
    # True when a copy was asked for but could not be sent.
    email_failed: bool = False


class ExtractFailed(DomainError):
    """Building or signing the PDF failed; the request is marked failed."""

    def __init__(self, request_id: int) -> None:
        super().__init__(MSG_FAILED)
        self.request_id = request_id


# -- content: rows to plain data -----------------------------------------------------------


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)


def _number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _reference(obs: LabObservation) -> str:
    if obs.ref_text:
        return obs.ref_text
    if obs.ref_low is not None and obs.ref_high is not None:
        return f"{_number(obs.ref_low)}–{_number(obs.ref_high)}"
    if obs.ref_low is not None:
        return f"не ниже {_number(obs.ref_low)}"
    if obs.ref_high is not None:
        return f"не выше {_number(obs.ref_high)}"
    return ""


FLAG_MARKS = {"high": "↑", "low": "↓", "abnormal": "!", "normal": ""}


def _lab_block(result: LabResult, observations: Sequence[LabObservation]) -> LabBlock:
    status = "окончательный" if result.status == "final" else "предварительный"
    issued = result.issued_at.astimezone(MSK)
    lines = [
        _join(
            f"Лаборатория: {result.laboratory_name}",
            f"назначил: {result.ordered_by}" if result.ordered_by else None,
        )
    ]
    if result.lab_comment:
        lines.append(f"Комментарий лаборатории: {result.lab_comment}")
    if result.doctor_comment:
        lines.append(f"Комментарий врача: {result.doctor_comment}")
    analytes = tuple(
        Analyte(
            name=obs.name,
            value=_number(obs.value) if obs.value is not None else (obs.value_text or "—"),
            unit=obs.unit or "",
            reference=_reference(obs),
            flag=FLAG_MARKS.get(obs.flag or "", ""),
        )
        for obs in observations
    )
    return LabBlock(f"{result.test_name} от {_d(issued.date())} ({status})", tuple(lines), analytes)


def _stay_dates(stay: Hospitalisation) -> str:
    if stay.discharged_on is None:
        return f"с {_d(stay.admitted_on)} (не выписан)"
    return f"с {_d(stay.admitted_on)} по {_d(stay.discharged_on)}"


def _stay_entry(stay: Hospitalisation) -> Entry:
    return Entry(
        f"{_stay_dates(stay)} — {stay.organisation_name}",
        tuple(
            line
            for line in (
                f"Отделение: {stay.department}" if stay.department else None,
                f"Причина: {stay.reason}",
                f"Исход: {stay.outcome}" if stay.outcome else None,
            )
            if line
        ),
    )


def _person(record: MedicalRecord) -> PersonData:
    name = " ".join(p for p in (record.last_name, record.first_name, record.middle_name) if p)
    return PersonData(name, record.birth_date, record.snils, record.policy_number)


# -- the service ------------------------------------------------------------------------------


class ExtractService:
    PAGE_SIZE = PAGE_SIZE

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def repo(self) -> ExtractRequestRepo:
        return self.uow.record.extracts

    def _today(self) -> date:
        return today_msk(self.ctx)

    async def _journal(
        self, user: CardUser, action: str, decision: Decision, *, outcome: str = "ok", **ids: Any
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(user),
            action=action,
            outcome=outcome,
            actor_account_id=actor_account_id(user),
            subject_account_id=decision.subject_account_id,
            **decision.audit_fields(),
            **ids,
        )

    async def _require(self, user: CardUser, permission: Permission, action: str) -> Decision:
        return await require(
            self.uow, self.ctx, user, user.subject_account_id, permission, action=action
        )

    # -- the list and one document ---------------------------------------------------------

    async def documents(self, user: CardUser, page: int = 0) -> Page[DocumentItem]:
        """A page of «Выписки и заключения», newest first."""
        decision = await self._require(user, Permission.READ_RECORD, "extract.list")
        page = max(page, 0)
        rows = await self.repo.documents_page(
            decision.subject_account_id, offset=page * PAGE_SIZE, limit=PAGE_SIZE + 1
        )
        await self._journal(user, "extract.list", decision, page=page)
        items = [
            DocumentItem(
                id=d.id,
                kind=d.kind,
                kind_label=DOCUMENT_KIND_LABELS.get(d.kind, "Документ"),
                title=d.title,
                document_date=d.document_date,
            )
            for d in rows[:PAGE_SIZE]
        ]
        return Page(items, page, len(rows) > PAGE_SIZE)

    async def document(self, user: CardUser, document_id: int) -> DocumentDetail:
        decision = await self._require(user, Permission.READ_RECORD, "record.document.view")
        doc = await self.repo.document(decision.subject_account_id, document_id)
        if doc is None:
            raise NotFoundError(MSG_NOT_FOUND)
        await self._journal(user, "record.document.view", decision, document_id=doc.id)
        return DocumentDetail(
            id=doc.id,
            kind=doc.kind,
            kind_label=DOCUMENT_KIND_LABELS.get(doc.kind, "Документ"),
            title=doc.title,
            document_date=doc.document_date,
            author_name=doc.author_name,
            organisation_name=doc.organisation_name,
            body=doc.body,
            has_file=doc.storage_key is not None,
            added_by_you=doc.source == "patient",
            source_note=(
                source_note(doc, doc.author_name, own=True)
                if doc.source == "doctor" and doc.author_staff_id is not None
                else None
            ),
        )

    async def document_file(self, user: CardUser, document_id: int) -> DocumentFile:
        """The document's file (to send with protect_content); DOWNLOAD, journaled."""
        action = "record.document.download"
        decision = await self._require(user, Permission.DOWNLOAD, action)
        doc = await self.repo.document(decision.subject_account_id, document_id)
        if doc is None:
            raise NotFoundError(MSG_NOT_FOUND)
        if doc.kind == "extract":
            action = "extract.download"
        if doc.storage_key is None:
            raise DomainError(MSG_NO_FILE)
        try:
            data = await self._store().get(doc.storage_key)
        except FileStoreError:
            log.warning("record document %s: stored file unreadable", doc.id)
            raise DomainError(MSG_FILE_UNAVAILABLE) from None
        await self._journal(user, action, decision, document_id=doc.id)
        return DocumentFile(
            data=data,
            file_name=doc.file_name or f"document-{doc.id}.pdf",
            mime_type=doc.mime_type or "application/pdf",
        )

    # -- choices for a request ----------------------------------------------------------------

    async def hospitalisations(self, user: CardUser) -> list[StayChoice]:
        """The person's hospitalisations to choose a discharge summary from."""
        decision = await self._require(user, Permission.READ_RECORD, "record.section.view")
        stays = await self.repo.hospitalisations(decision.subject_account_id, limit=STAYS_LIMIT)
        await self._journal(
            user, "record.section.view", decision, section="hospitalisations", purpose="extract"
        )
        return [
            StayChoice(
                id=s.id,
                label=f"{_stay_dates(s)}, {s.organisation_name}",
                has_summary=s.summary_document_id is not None,
            )
            for s in stays
        ]

    async def email_address(self, user: CardUser) -> str | None:
        """The signed-in account's e-mail, masked, for «Отправить также на e-mail»."""
        if not isinstance(user, AccountPrincipal):  # a relative: no e-mail of theirs here
            return None
        await require(
            self.uow,
            self.ctx,
            user,
            user.account_id,
            Permission.READ_PROFILE,
            action="extract.request",
        )
        account = await self.uow.identity.accounts.get(user.account_id)
        if account is None or not account.email:
            return None
        return mask_email(account.email)

    # -- history -------------------------------------------------------------------------------

    async def history(self, user: CardUser, page: int = 0) -> Page[RequestItem]:
        """«История запросов»: the requests for the card being worked on, newest first."""
        decision = await self._require(user, Permission.READ_RECORD, "extract.list")
        page = max(page, 0)
        rows = await self.repo.page(
            decision.subject_account_id, offset=page * PAGE_SIZE, limit=PAGE_SIZE + 1
        )
        rows = rows[: PAGE_SIZE + 1]
        stay_ids = {
            int(r.params["hospitalisation_id"])
            for r in rows
            if r.kind == "discharge" and r.params.get("hospitalisation_id") is not None
        }
        stays = {}
        for stay_id in stay_ids:
            stay = await self.repo.hospitalisation(decision.subject_account_id, stay_id)
            if stay is not None:
                stays[stay_id] = stay
        await self._journal(user, "extract.list", decision, view="history", page=page)
        items = []
        for r in rows[:PAGE_SIZE]:
            if r.kind == "discharge":
                stay = stays.get(int(r.params.get("hospitalisation_id") or 0))
                subject = (
                    f"госпитализация {_stay_dates(stay)}" if stay else "госпитализация (удалена)"
                )
            else:
                subject = Period.from_params(r.params).label
            items.append(
                RequestItem(
                    id=r.id,
                    kind=r.kind,
                    kind_label=KIND_LABELS[r.kind],
                    subject=subject,
                    requested_at=r.requested_at,
                    status=r.status,
                    status_label=STATUS_LABELS.get(r.status, r.status),
                    document_id=r.document_id if r.status == "done" else None,
                    emailed=r.emailed_at is not None,
                )
            )
        return Page(items, page, len(rows) > PAGE_SIZE)

    # -- the request, step 1 -----------------------------------------------------------------

    async def begin(self, user: CardUser, order: ExtractOrder, *, email: bool) -> Prepared:
        """Check the access, record the request and read what goes into the PDF."""
        signer = self.ctx.signer
        if signer is None:
            raise DomainError(MSG_NO_SIGNER)
        decision = await self._require(user, Permission.DOWNLOAD, "extract.request")
        subject = decision.subject_account_id
        record = await self.uow.record.records.for_account(subject)
        if record is None:
            raise DomainError(MSG_NO_RECORD)
        now = self.ctx.gateways.clock.now()
        stay: Hospitalisation | None = None
        if order.kind == "discharge":
            assert order.hospitalisation_id is not None
            stay = await self.repo.hospitalisation(subject, order.hospitalisation_id)
            if stay is None:
                raise NotFoundError(MSG_STAY_NOT_FOUND)
        elif order.period is not None:
            check_period(order.period.start, order.period.end, self._today())
        request = await self.repo.add(
            ExtractRequest(
                account_id=subject,
                kind=order.kind,
                params=order.params(),
                status="pending",
                requested_by=actor_of(user),
                requested_at=now,
            )
        )
        sensitive = await authorize(self.uow, self.ctx, user, subject, Permission.READ_SENSITIVE)
        if stay is not None:
            document = await self._discharge(record, stay, signer, now, request.id)
        elif order.kind == "lab_summary":
            assert order.period is not None
            document = await self._lab_summary(
                record, order.period, signer, now, request.id, sensitive.allowed
            )
        else:
            assert order.period is not None
            document = await self._period(
                record, order.period, signer, now, request.id, sensitive.allowed
            )
        address = None
        if email and isinstance(user, AccountPrincipal):
            account = await self.uow.identity.accounts.get(user.account_id)
            address = account.email if account is not None and account.email else None
        await self._journal(
            user,
            "extract.request",
            decision,
            request_id=request.id,
            kind=order.kind,
            email=address is not None,
        )
        issued = now.astimezone(MSK)
        title = KIND_LABELS[order.kind]
        if order.period is not None:
            title = f"{title} {order.period.label}"
        elif stay is not None:
            title = f"{title}: госпитализация {_stay_dates(stay)}"
        return Prepared(
            request_id=request.id,
            kind=order.kind,
            subject_account_id=subject,
            document=document,
            reason=PDF_TITLES[order.kind],
            file_name=f"{FILE_PREFIX[order.kind]} от {issued:%d.%m.%Y} №{request.id}.pdf",
            title=title[:300],
            email=address,
        )

    def _header(
        self, kind: str, record: MedicalRecord, signer: PdfSigner, now: datetime, number: int
    ) -> dict[str, Any]:
        return {
            "title": PDF_TITLES[kind],
            "organisation": signer.organisation,
            "person": _person(record),
            "issued_at": now,
            "number": str(number),
        }

    async def _labs(
        self, account_id: int, start: date | None, end: date | None, sensitive: bool
    ) -> tuple[LabBlock, ...]:
        since = datetime.combine(start, time.min, MSK) if start else None
        until = datetime.combine(end + timedelta(days=1), time.min, MSK) if end else None
        results = await self.repo.lab_results(
            account_id, since, until, include_sensitive=sensitive, limit=SECTION_LIMIT
        )
        return tuple(_lab_block(result, observations) for result, observations in results)

    async def _period(
        self,
        record: MedicalRecord,
        period: Period,
        signer: PdfSigner,
        now: datetime,
        number: int,
        sensitive: bool,
    ) -> ExtractDocument:
        account, start, end, limit = record.account_id, period.start, period.end, SECTION_LIMIT
        repo = self.repo
        diagnoses = [
            Entry(
                f"{d.icd10_code} — {d.name}",
                (
                    _join(
                        f"Установлен {_d(d.set_on)}",
                        f"врач: {d.doctor_name}" if d.doctor_name else None,
                        d.organisation_name,
                    ),
                    "Снят " + _d(d.resolved_on)
                    if d.status == "resolved" and d.resolved_on
                    else ("Снят" if d.status == "resolved" else "Активный"),
                ),
            )
            for d in await repo.diagnoses(account, start, end, limit=limit)
        ]
        medications = [
            Entry(
                f"{m.name}, {m.dose}",
                (
                    f"Как принимать: {m.instructions}",
                    _join(
                        f"Курс: с {_d(m.start_on)}"
                        + (f" по {_d(m.end_on)}" if m.end_on else " (без даты окончания)"),
                        f"назначил: {m.prescribed_by}" if m.prescribed_by else None,
                    ),
                ),
            )
            for m in await repo.medications(account, start, end, limit=limit)
        ]
        vaccinations = [
            Entry(
                f"{_d(v.given_on)} — {v.vaccine}",
                tuple(
                    line
                    for line in (
                        _join(
                            f"доза {v.dose_number}" if v.dose_number else None,
                            f"реакция: {v.reaction}" if v.reaction else None,
                        ),
                        v.organisation_name,
                    )
                    if line
                ),
            )
            for v in await repo.vaccinations(account, start, end, limit=limit)
        ]
        stays = [_stay_entry(s) for s in await repo.stays(account, start, end, limit=limit)]
        procedures = [
            Entry(
                f"{_d(p.performed_on)} — {p.name} ({PROCEDURE_LABELS.get(p.kind, p.kind)})",
                tuple(
                    line
                    for line in (
                        p.organisation_name,
                        f"Результат: {p.result}" if p.result else None,
                    )
                    if line
                ),
            )
            for p in await repo.procedures(account, start, end, limit=limit)
        ]
        screenings = [
            Entry(
                f"{_d(s.measured_on)} — {s.indicator}: {s.value}",
                tuple(line for line in (s.programme, s.interpretation) if line),
            )
            for s in await repo.screenings(account, start, end, limit=limit)
        ]
        visits = [
            Entry(
                f"{_d(v.visited_on)} — {v.doctor_name}, {v.specialty}",
                tuple(
                    line
                    for line in (
                        v.organisation_name,
                        f"Заключение: {v.conclusion}" if v.conclusion else None,
                    )
                    if line
                ),
            )
            for v in await repo.visits(account, start, end, limit=limit)
        ]
        return ExtractDocument(
            **self._header("period", record, signer, now, number),
            period=period.label,
            sections=(
                Section("Диагнозы", tuple(diagnoses)),
                Section("Лекарственные назначения", tuple(medications)),
                Section("Прививки", tuple(vaccinations)),
                Section("Госпитализации", tuple(stays)),
                Section("Обследования и процедуры", tuple(procedures)),
                Section("Скрининги и диспансеризация", tuple(screenings)),
                Section("Посещения врачей", tuple(visits)),
            ),
            labs=await self._labs(account, start, end, sensitive),
            labs_always=True,
        )

    async def _lab_summary(
        self,
        record: MedicalRecord,
        period: Period,
        signer: PdfSigner,
        now: datetime,
        number: int,
        sensitive: bool,
    ) -> ExtractDocument:
        return ExtractDocument(
            **self._header("lab_summary", record, signer, now, number),
            period=period.label,
            labs=await self._labs(record.account_id, period.start, period.end, sensitive),
            labs_always=True,
        )

    async def _discharge(
        self,
        record: MedicalRecord,
        stay: Hospitalisation,
        signer: PdfSigner,
        now: datetime,
        number: int,
    ) -> ExtractDocument:
        account = record.account_id
        end = stay.discharged_on or self._today()
        summary = None
        if stay.summary_document_id is not None:
            summary = await self.repo.document(account, stay.summary_document_id)
        summary_lines: list[str] = []
        if summary is not None:
            summary_lines.append(
                _join(
                    f"{summary.title} от {_d(summary.document_date)}",
                    f"врач: {summary.author_name}" if summary.author_name else None,
                )
            )
        diagnoses = [
            Entry(f"{d.icd10_code} — {d.name}", (f"Установлен {_d(d.set_on)}",))
            for d in await self.repo.diagnoses(account, stay.admitted_on, end, limit=SECTION_LIMIT)
            if d.set_on >= stay.admitted_on
        ]
        procedures = [
            Entry(
                f"{_d(p.performed_on)} — {p.name}",
                (f"Результат: {p.result}",) if p.result else (),
            )
            for p in await self.repo.procedures(account, stay.admitted_on, end, limit=SECTION_LIMIT)
        ]
        return ExtractDocument(
            **self._header("discharge", record, signer, now, number),
            extra={"Госпитализация": _stay_dates(stay)},
            sections=(
                Section("Госпитализация", (_stay_entry(stay),)),
                Section(
                    "Выписной эпикриз",
                    (Entry(summary_lines[0]),) if summary_lines else (),
                    text=summary.body if summary is not None else None,
                    empty="Выписной эпикриз по этой госпитализации в медкарту не поступал.",
                ),
                Section("Диагнозы, установленные при госпитализации", tuple(diagnoses)),
                Section("Обследования и процедуры", tuple(procedures)),
            ),
            labs=await self._labs(account, stay.admitted_on, end, True),
            labs_title="Результаты анализов за время госпитализации",
        )

    # -- the request, step 3 -------------------------------------------------------------------

    def _store(self) -> FileStore:
        store = self.ctx.gateways.files
        if store is None:
            raise RuntimeError("no file store configured: set Gateways.files")
        return store

    async def _request(self, prepared: Prepared) -> ExtractRequest:
        request = await self.repo.get(prepared.subject_account_id, prepared.request_id)
        if request is None:
            raise NotFoundError("Запрос выписки не найден.")
        return request

    async def finish(self, user: CardUser, prepared: Prepared, signed: bytes) -> int:
        """Store the signed PDF, add it to the record, mark the request done; the document id."""
        request = await self._request(prepared)
        store = self._store()
        key = await store.put(signed)
        self.uow.after_rollback(functools.partial(store.delete, key))
        now = self.ctx.gateways.clock.now()
        document = await self.repo.add_document(
            RecordDocument(
                account_id=prepared.subject_account_id,
                kind="extract",
                title=prepared.title,
                document_date=now.astimezone(MSK).date(),
                body=(
                    f"{prepared.reason}, подписана электронной подписью медицинской организации."
                ),
                author_name=None,
                organisation_name=prepared.document.organisation,
                source="import",
                storage_key=key,
                sha256=hashlib.sha256(signed).hexdigest(),
                size=len(signed),
                mime_type="application/pdf",
                file_name=prepared.file_name,
                created_at=now,
            )
        )
        request.status = "done"
        request.done_at = now
        request.document_id = document.id
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(user),
            action="extract.issue",
            actor_account_id=actor_account_id(user),
            subject_account_id=prepared.subject_account_id,
            request_id=request.id,
            document_id=document.id,
        )
        return document.id

    async def fail(self, user: CardUser, prepared: Prepared) -> None:
        request = await self._request(prepared)
        request.status = "failed"
        request.done_at = self.ctx.gateways.clock.now()
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(user),
            action="extract.issue",
            outcome="failed",
            actor_account_id=actor_account_id(user),
            subject_account_id=prepared.subject_account_id,
            request_id=request.id,
        )

    async def mark_emailed(self, user: CardUser, prepared: Prepared, document_id: int) -> None:
        decision = await self._require(user, Permission.DOWNLOAD, "extract.email")
        request = await self._request(prepared)
        request.emailed_at = self.ctx.gateways.clock.now()
        await self._journal(
            user, "extract.email", decision, request_id=request.id, document_id=document_id
        )


def build_signed_pdf(document: ExtractDocument, signer: PdfSigner, reason: str) -> bytes:
    """Render and sign: the CPU step of a request (run in ``ctx.cpu``)."""
    return signer.sign(render_extract(document), reason=reason)


class ExtractRequests:
    """«Запросить выписку» across its units of work, with the CPU step between them."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    def _service(self, uow: UnitOfWork) -> ExtractService:
        return ExtractService(uow, self.ctx)

    async def request(
        self, user: CardUser, order: ExtractOrder, *, email: bool = False
    ) -> ExtractResult:
        """Build, sign and store the extract; mail a copy when asked. ExtractFailed on failure."""
        signer = self.ctx.signer
        if signer is None:
            raise DomainError(MSG_NO_SIGNER)
        prepared = await in_unit(
            self.work, lambda uow: self._service(uow).begin(user, order, email=email)
        )
        try:
            signed = await self.ctx.cpu.run(
                build_signed_pdf, prepared.document, signer, prepared.reason
            )
        except Exception:
            log.exception("extract request %s: building or signing failed", prepared.request_id)
            await in_unit(self.work, lambda uow: self._service(uow).fail(user, prepared))
            raise ExtractFailed(prepared.request_id) from None
        document_id = await in_unit(
            self.work, lambda uow: self._service(uow).finish(user, prepared, signed)
        )
        result = ExtractResult(prepared.request_id, document_id, signed, prepared.file_name)
        if prepared.email is None:
            return result
        try:
            await self.ctx.gateways.mail.send(
                prepared.email,
                MAIL_SUBJECT,
                "Здравствуйте!\n\n"
                f"Во вложении — документ «{prepared.title}». Он подписан электронной "
                f"подписью медицинской организации: {signer.organisation}.\n\n"
                "Письмо отправлено автоматически, отвечать на него не нужно.",
                (Attachment(prepared.file_name, "application/pdf", signed),),
            )
        except DeliveryError:
            log.warning("extract request %s: the e-mail copy was not sent", prepared.request_id)
            return ExtractResult(
                prepared.request_id, document_id, signed, prepared.file_name, email_failed=True
            )
        await in_unit(
            self.work, lambda uow: self._service(uow).mark_emailed(user, prepared, document_id)
        )
        return ExtractResult(
            prepared.request_id,
            document_id,
            signed,
            prepared.file_name,
            emailed_to=mask_email(prepared.email),
        )
