"""«Отправить выписку врачу»: a signed PDF from a card, sent to a colleague, and
the recipient's «Входящие выписки».

The sender is a doctor on a card opened with a step-up (``DoctorPrincipal`` with
``acting_for``): sending is ``DOWNLOAD`` of the patient's record, asked of the
access rule at that moment. The content is an extract of the record for the last
year (built and signed as «Запросить выписку» builds it, services.record.extracts,
so it is in the patient's «Выписки и заключения» too) or one of the card's
signed conclusions. A copy of the signed file is kept with the covering note in
``colleague_extracts``; the recipient — a confirmed doctor of any organisation —
gets a push, and opens only that row and its file: nothing else of the card, for
which they hold no step-up. The sending is in the patient's journal (subject: the
patient), and so is each opening by the recipient.

The recipient's reads rest on the row addressed to their confirmed doctor's staff
row (basis ``colleague_extract``): the access rule (services.core.access) has no
grant of this kind, so it is checked here, and journaled with that basis.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime

from services.core import audit, notify
from services.core.access import (
    MSK,
    AccountPrincipal,
    DoctorPrincipal,
    Permission,
    journal,
    own_doctor_row,
    require,
)
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.gateways import FileStore, FileStoreError
from services.core.journal import short_name
from services.core.work import Work, in_unit
from services.record.extracts import ExtractOrder, ExtractRequests, last_year, today_msk
from storage.models import ColleagueExtract, StaffMember
from storage.uow import UnitOfWork

__all__ = [
    "ColleagueExtracts",
    "ColleagueInbox",
    "InboxItem",
    "InboxPage",
    "Sent",
    "SentFile",
]

PAGE_SIZE = 6
NOTE_LIMIT = 1000

MSG_NO_RECIPIENT = "Такого врача нет. Найдите врача по фамилии и выберите его из списка."
MSG_SELF = "Нельзя отправить выписку самому себе. Выберите другого врача."
MSG_NO_CONCLUSION = "Такого подписанного заключения в карте нет. Выберите его из списка."
MSG_NOT_SENT = "Такой выписки среди присланных вам нет."
MSG_FILE_UNAVAILABLE = "Файл сейчас недоступен. Попробуйте ещё раз немного позже."
MSG_NOTE_LONG = f"Сопроводительное письмо — не больше {NOTE_LIMIT} символов."


@dataclass(frozen=True)
class Sent:
    extract_id: int
    recipient: str
    title: str


@dataclass(frozen=True)
class InboxItem:
    extract_id: int
    label: str


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    number: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass(frozen=True)
class InboxDetail:
    extract_id: int
    title: str
    patient: str
    sender: str
    sent_at: datetime
    note: str | None


@dataclass(frozen=True)
class SentFile:
    data: bytes
    file_name: str


def check_note(text: str | None) -> str | None:
    value = (text or "").strip()
    if len(value) > NOTE_LIMIT:
        raise ValidationError(MSG_NOTE_LONG)
    return value or None


def _store(ctx: AppContext) -> FileStore:
    store = ctx.gateways.files
    if store is None:
        raise DomainError(MSG_FILE_UNAVAILABLE)
    return store


async def _doctor_label(uow: UnitOfWork, staff: StaffMember) -> str:
    """«Соколова М. А., терапевт, Городская поликлиника № 1»."""
    names = await uow.clinic.staff.names([staff.id])
    organisation = await uow.clinic.organisations.get(staff.organisation_id)
    specialty = None
    if staff.specialty:
        row = await uow.booking.catalog.specialty(staff.specialty)
        specialty = row.name if row is not None else staff.specialty
    parts = [
        short_name(names.get(staff.id, "")),
        specialty,
        organisation.name if organisation else None,
    ]
    return ", ".join(p for p in parts if p)


class ColleagueExtracts:
    """Sending: the sender's use cases; each public method is one use case."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    async def _recipient(self, doctor: DoctorPrincipal, recipient_staff_id: int) -> StaffMember:
        if recipient_staff_id == doctor.staff_id:
            raise ValidationError(MSG_SELF)
        staff = await self.uow.clinic.staff.get(recipient_staff_id)
        now = self.ctx.gateways.clock.now()
        if (
            staff is None
            or staff.role != "doctor"
            or staff.confirmed_at is None
            or staff.confirmed_at > now
        ):
            raise NotFoundError(MSG_NO_RECIPIENT)
        return staff

    async def check_recipient(self, doctor: DoctorPrincipal, recipient_staff_id: int) -> None:
        """Refuse an unknown recipient before the extract is built (no data read)."""
        await self._recipient(doctor, recipient_staff_id)

    async def conclusions(self, doctor: DoctorPrincipal) -> list[tuple[int, str]]:
        """The card's signed conclusions, to choose one to send (journaled as a view)."""
        subject = doctor.subject_account_id
        decision = await require(
            self.uow, self.ctx, doctor, subject, Permission.READ_RECORD, action="extract.list"
        )
        rows = await self.uow.record.sections.signed_conclusions(subject)
        await journal(self.uow, self.ctx, doctor, subject, decision, "extract.list", page=0)
        return [(r.id, f"{r.document_date:%d.%m.%Y} · {r.title}"[:60]) for r in rows]

    async def conclusion_file(
        self, doctor: DoctorPrincipal, recipient_staff_id: int, document_id: int
    ) -> tuple[bytes, str, str]:
        """The conclusion's signed file to send: its bytes, title and name (DOWNLOAD)."""
        subject = doctor.subject_account_id
        await require(
            self.uow,
            self.ctx,
            doctor,
            subject,
            Permission.DOWNLOAD,
            action="record.colleague.send",
            document_id=document_id,
        )
        await self._recipient(doctor, recipient_staff_id)
        document = await self.uow.record.extracts.document(subject, document_id)
        if document is None or document.kind != "conclusion" or document.storage_key is None:
            raise NotFoundError(MSG_NO_CONCLUSION)
        try:
            data = await _store(self.ctx).get(document.storage_key)
        except FileStoreError:
            raise DomainError(MSG_FILE_UNAVAILABLE) from None
        return data, document.title, document.file_name or f"Заключение {document.id}.pdf"

    async def deliver(
        self,
        doctor: DoctorPrincipal,
        recipient_staff_id: int,
        *,
        content: str,
        document_id: int,
        signed: bytes,
        title: str,
        file_name: str,
        note: str | None,
    ) -> Sent:
        """Keep a copy of the signed file for the recipient, journal it, push the recipient."""
        subject = doctor.subject_account_id
        decision = await require(
            self.uow,
            self.ctx,
            doctor,
            subject,
            Permission.DOWNLOAD,
            action="record.colleague.send",
            document_id=document_id,
        )
        recipient = await self._recipient(doctor, recipient_staff_id)
        store = _store(self.ctx)
        key = await store.put(signed)
        self.uow.after_rollback(functools.partial(store.delete, key))
        row = await self.uow.record.colleagues.add(
            ColleagueExtract(
                patient_account_id=subject,
                sender_staff_id=doctor.staff_id,
                recipient_staff_id=recipient.id,
                document_id=document_id,
                content=content,
                title=title[:300],
                note=check_note(note),
                storage_key=key,
                sha256=hashlib.sha256(signed).hexdigest(),
                size=len(signed),
                file_name=file_name[:255],
                sent_at=self.ctx.gateways.clock.now(),
                opened_at=None,
            )
        )
        await journal(
            self.uow,
            self.ctx,
            doctor,
            subject,
            decision,
            "record.colleague.send",
            extract_id=row.id,
            document_id=document_id,
            content=content,
            recipient_staff_id=recipient.id,
        )
        sender = await self.uow.clinic.staff.get(doctor.staff_id)
        sender_label = await _doctor_label(self.uow, sender) if sender is not None else "врач"
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=recipient.account_id,
            text=(
                f"Вам прислали выписку: {row.title}. Отправитель: {sender_label}. "
                "Откройте «Кабинет врача» → «Входящие выписки»."
            ),
            kind="clinic.colleague_extract",
            buttons=[notify.Button("Открыть", notify.ButtonAction.MENU)],
        )
        return Sent(row.id, await _doctor_label(self.uow, recipient), row.title)


class ColleagueSending:
    """«Отправить выписку врачу» across its units of work (the extract is signed between)."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def send_extract(
        self, doctor: DoctorPrincipal, recipient_staff_id: int, note: str | None
    ) -> Sent:
        """An extract of the record for the last year, built and signed now, then sent."""
        check_note(note)
        await in_unit(
            self.work,
            lambda uow: ColleagueExtracts(uow, self.ctx).check_recipient(
                doctor, recipient_staff_id
            ),
        )
        order = ExtractOrder("period", period=last_year(today_msk(self.ctx)))
        result = await ExtractRequests(self.work, self.ctx).request(doctor, order)
        return await in_unit(
            self.work,
            lambda uow: ColleagueExtracts(uow, self.ctx).deliver(
                doctor,
                recipient_staff_id,
                content="extract",
                document_id=result.document_id,
                signed=result.data,
                title=result.file_name.removesuffix(".pdf"),
                file_name=result.file_name,
                note=note,
            ),
        )

    async def send_conclusion(
        self, doctor: DoctorPrincipal, recipient_staff_id: int, document_id: int, note: str | None
    ) -> Sent:
        """One of the card's signed conclusions, as it was signed."""
        check_note(note)
        data, title, file_name = await in_unit(
            self.work,
            lambda uow: ColleagueExtracts(uow, self.ctx).conclusion_file(
                doctor, recipient_staff_id, document_id
            ),
        )
        return await in_unit(
            self.work,
            lambda uow: ColleagueExtracts(uow, self.ctx).deliver(
                doctor,
                recipient_staff_id,
                content="conclusion",
                document_id=document_id,
                signed=data,
                title=title,
                file_name=file_name,
                note=note,
            ),
        )


class ColleagueInbox:
    """«Входящие выписки»: what colleagues sent to this doctor, and nothing else."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    async def _me(self, user: AccountPrincipal, staff_id: int, action: str) -> StaffMember:
        return await own_doctor_row(self.uow, self.ctx, user.account_id, staff_id, action)

    async def page(self, user: AccountPrincipal, staff_id: int, number: int = 1) -> InboxPage:
        staff = await self._me(user, staff_id, "colleague.inbox.view")
        repo = self.uow.record.colleagues
        total = await repo.count_for(staff.id)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(1, number), pages)
        rows = await repo.page_for(staff.id, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        await audit.record(
            self.uow,
            self.ctx,
            actor=f"staff:{staff.id}",
            action="colleague.inbox.view",
            actor_account_id=user.account_id,
            page=number,
        )
        items = []
        for row in rows:
            mark = "" if row.opened_at is not None else "● "
            items.append(
                InboxItem(row.id, f"{mark}{row.sent_at.astimezone(MSK):%d.%m} · {row.title}"[:60])
            )
        return InboxPage(items, number, pages, total)

    async def _row(
        self, user: AccountPrincipal, staff_id: int, extract_id: int, action: str
    ) -> tuple[StaffMember, ColleagueExtract]:
        staff = await self._me(user, staff_id, action)
        row = await self.uow.record.colleagues.one_for(staff.id, extract_id)
        if row is None:
            await audit.record(
                self.uow,
                self.ctx,
                actor=f"staff:{staff.id}",
                action=action,
                outcome="denied",
                actor_account_id=user.account_id,
                extract_id=extract_id,
                denied="not_sent",
            )
            raise NotFoundError(MSG_NOT_SENT)
        return staff, row

    async def _journal(
        self, user: AccountPrincipal, staff: StaffMember, row: ColleagueExtract, action: str
    ) -> None:
        """Asked of the access rule (READ_SENT_EXTRACT: sent to this doctor), then journaled."""
        doctor = DoctorPrincipal(staff.id, user.account_id, staff.organisation_id)
        decision = await require(
            self.uow,
            self.ctx,
            doctor,
            row.patient_account_id,
            Permission.READ_SENT_EXTRACT,
            action=action,
        )
        await journal(
            self.uow, self.ctx, doctor, row.patient_account_id, decision, action, extract_id=row.id
        )

    async def open(self, user: AccountPrincipal, staff_id: int, extract_id: int) -> InboxDetail:
        """One sent extract: its title, the patient, the sender, the note (journaled)."""
        staff, row = await self._row(user, staff_id, extract_id, "record.colleague.open")
        if row.opened_at is None:
            row.opened_at = self.ctx.gateways.clock.now()
        record = await self.uow.record.records.for_account(row.patient_account_id)
        patient = ""
        if record is not None:
            patient = " ".join(
                p for p in (record.last_name, record.first_name, record.middle_name) if p
            )
            patient = f"{patient}, {record.birth_date:%d.%m.%Y}"
        sender = await self.uow.clinic.staff.get(row.sender_staff_id)
        sender_label = await _doctor_label(self.uow, sender) if sender is not None else ""
        await self._journal(user, staff, row, "record.colleague.open")
        return InboxDetail(row.id, row.title, patient, sender_label, row.sent_at, row.note)

    async def file(self, user: AccountPrincipal, staff_id: int, extract_id: int) -> SentFile:
        staff, row = await self._row(user, staff_id, extract_id, "record.colleague.download")
        try:
            data = await _store(self.ctx).get(row.storage_key)
        except FileStoreError:
            raise DomainError(MSG_FILE_UNAVAILABLE) from None
        await self._journal(user, staff, row, "record.colleague.download")
        return SentFile(data, row.file_name)
