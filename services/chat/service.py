"""The embedded chat: a patient asks a doctor, the doctor answers.

The patient's side (``ask``, ``threads``, ``thread``, ``write``) works on the card
of ``principal.subject_account_id``: the person's own, or a card shared with them
(a relative with «полный доступ» asks on the patient's behalf, and the doctor sees
who asked). Writing and reading the answers is ``Permission.MESSAGE_DOCTOR``.

The doctor's side (``inbox``, ``doctor_thread``, ``answer``, ``close``) is a
confirmed staff member of the role «doctor», checked against the signed-in
account on every call; each thread is read and answered through the access rule
with ``Permission.ANSWER_QUESTIONS`` (the patient asked this doctor: no step-up
is needed for the question, the card itself still opens with one).

A thread id from a button is never trusted: a thread of another patient or
addressed to another doctor is refused as «no such question», journaled.

Messages are medical data: they are stored like the record's entries, never
logged, and every read and write is in the journal (by ids). A file under the
record's own documents' checks (services.core.files) is judged in the CPU pool
before any unit of work opens, then stored encrypted in the file store.

Pushes: the doctor gets one for each new question and each new message of the
patient; the patient gets one for each answer, with «Открыть» (the thread). So
does each relative who wrote in the thread on the patient's behalf (the grant
their message was written under names them), while the access rule still lets
them write to a doctor; their «Открыть» opens the thread on the patient's card.
No push carries a message's text.

The lists («Мои вопросы», «Вопросы пациентов») are paged in the database,
``PAGE_SIZE`` a page.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.core import audit, notify
from services.core.access import (
    AccountPrincipal,
    Decision,
    DoctorPrincipal,
    Permission,
    RelativePrincipal,
    actor_of,
    authorize,
    journal,
    own_doctor_row,
    require,
)
from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError, ValidationError
from services.core.files import MAX_UPLOAD_BYTES, UploadInfo, UploadRejected, inspect_upload
from services.core.journal import short_name
from services.core.notify import Button, ButtonAction
from services.core.work import Work, in_unit
from storage.models import ChatMessage, ChatThread, StaffMember
from storage.uow import UnitOfWork

__all__ = [
    "MSG_SENT",
    "AskOptions",
    "ChatSender",
    "ChatService",
    "DoctorChoice",
    "Inbox",
    "MessageView",
    "ThreadLine",
    "ThreadView",
    "ThreadsPage",
    "check_declared_size",
    "validate_text",
]

MSK = ZoneInfo("Europe/Moscow")
PatientSide = AccountPrincipal | RelativePrincipal

MAX_TEXT = 2000
MAX_FILE_NAME = 255
PAGE_SIZE = 8
ORIGINS = ("general", "lab_result", "visit")
THERAPIST = "therapist"

MSG_SENT = "Вопрос отправлен. Врач обычно отвечает в течение 1–3 рабочих дней."
MSG_WRITTEN = "Сообщение отправлено врачу."
MSG_ANSWERED = "Ответ отправлен пациенту."
MSG_CLOSED_OK = "Вопрос закрыт. Пациент увидит, что переписка завершена."
MSG_TEXT_EMPTY = "Напишите вопрос текстом: что вас беспокоит и с каких пор."
MSG_ANSWER_EMPTY = "Напишите ответ пациенту текстом."
MSG_TEXT_LONG = f"Сообщение слишком длинное: сократите его до {MAX_TEXT} символов."
MSG_NO_THREAD = "Такого вопроса нет."
MSG_CLOSED = "Вопрос закрыт: написать в эту переписку больше нельзя. Задайте новый вопрос."
MSG_NO_DOCTOR = "Выберите врача кнопкой под сообщением."
MSG_NO_DOCTORS = (
    "Сейчас некому задать вопрос в чате: врачи вашей поликлиники пока не отвечают здесь. "
    "Обратитесь в регистратуру поликлиники."
)
MSG_NO_ORIGIN = "Такого результата или записи нет."
MSG_NO_STORE = "Сейчас не получается сохранить файл. Попробуйте ещё раз немного позже."
MSG_NOT_STAFF = "Вопросы пациентов доступны только врачам медицинских организаций."

STATE_NAMES = {"waiting": "ждёт ответа", "answered": "есть ответ", "closed": "закрыт"}
ORIGIN_NAMES = {"lab_result": "результат анализа", "visit": "приём"}

PUSH_QUESTION = "Новый вопрос пациента в разделе «Вопросы пациентов»."
PUSH_MORE = "Пациент написал в переписку по своему вопросу."


def _moment(value: datetime) -> str:
    return value.astimezone(MSK).strftime("%d.%m.%Y %H:%M")


def validate_text(raw: str | None, *, empty: str = MSG_TEXT_EMPTY) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValidationError(empty)
    if len(text) > MAX_TEXT:
        raise ValidationError(MSG_TEXT_LONG)
    return text


def check_declared_size(size: int | None) -> None:
    """Refuse a file by the size Telegram declares, before it is fetched (over 5 МБ)."""
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise UploadRejected("too_large")


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _clean_file_name(file_name: str | None, info: UploadInfo) -> str:
    name = re.split(r"[\\/]", file_name or "")[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name).strip()[:MAX_FILE_NAME]
    return name or f"файл.{info.extension}"


def _full_name(last: str | None, first: str | None, middle: str | None) -> str:
    return " ".join(p for p in (last, first, middle) if p)


# -- what the windows show ---------------------------------------------------------------


@dataclass(frozen=True)
class DoctorChoice:
    staff_id: int
    label: str  # «Соколова М. А., терапевт»


@dataclass(frozen=True)
class AskOptions:
    doctors: list[DoctorChoice]
    origin_label: str | None  # «Результат анализа: Общий анализ крови от 01.12.2026»


@dataclass(frozen=True)
class ThreadLine:
    thread_id: int
    title: str  # who (the doctor for the patient, the patient for the doctor)
    state: str  # waiting / answered / closed
    unread: int
    updated_at: datetime

    @property
    def state_text(self) -> str:
        return STATE_NAMES[self.state]

    @property
    def button(self) -> str:
        unread = f" · новых: {self.unread}" if self.unread else ""
        return f"{self.title} — {self.state_text}{unread}"[:60]


@dataclass(frozen=True)
class MessageView:
    message_id: int
    author: str  # patient / relative / doctor
    author_name: str
    text: str
    at: datetime
    file_name: str | None


@dataclass(frozen=True)
class ThreadView:
    thread_id: int
    patient_account_id: int
    patient: str
    doctor: str
    state: str
    origin_label: str | None
    messages: list[MessageView]

    @property
    def state_text(self) -> str:
        return STATE_NAMES[self.state]

    @property
    def open(self) -> bool:
        return self.state != "closed"


def _pages(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


@dataclass(frozen=True)
class ThreadsPage:
    """One page of threads: ``page`` counts from 0, of ``pages`` (at least 1)."""

    threads: list[ThreadLine]
    page: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages

    @property
    def page_line(self) -> str:
        return f"Страница {self.page + 1} из {self.pages}" if self.pages > 1 else ""


@dataclass(frozen=True)
class Inbox(ThreadsPage):
    """«Вопросы пациентов»: a page of the open threads and how many wait in all."""

    waiting: int = 0


@dataclass(frozen=True)
class ChatFile:
    data: bytes
    file_name: str
    mime_type: str


class ChatService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    # -- names ------------------------------------------------------------------------

    async def _account_name(self, account_id: int) -> str:
        account = await self.uow.identity.accounts.get(account_id)
        if account is None:
            return ""
        return short_name(_full_name(account.last_name, account.first_name, account.middle_name))

    async def _specialty(self, staff: StaffMember) -> str:
        doctor = await self.uow.chat.threads.doctor_of_staff(staff.id)
        code = doctor.specialty_code if doctor is not None else staff.specialty
        specialty = await self.uow.booking.catalog.specialty(code) if code else None
        return specialty.name if specialty is not None else (staff.specialty or "врач")

    async def _doctor_label(self, staff_id: int) -> str:
        staff = await self.uow.clinic.staff.get(staff_id)
        if staff is None:
            return "врач"
        name = await self._account_name(staff.account_id)
        return f"{name}, {await self._specialty(staff)}"

    async def _author(self, principal: PatientSide, decision: Decision) -> tuple[str, str]:
        """(author kind, how the doctor reads who wrote)."""
        if isinstance(principal, AccountPrincipal):
            name = await self._account_name(principal.account_id)
            return ("patient", name) if principal.acting_for is None else ("relative", name)
        grant = (
            await self.uow.sharing.grants.get(decision.grant_id)
            if decision.grant_id is not None
            else None
        )
        name = short_name(grant.relative_name) if grant is not None else ""
        if not name and principal.account_id is not None:
            name = await self._account_name(principal.account_id)
        return "relative", name or "представитель пациента"

    # -- the patient's side -------------------------------------------------------------

    async def _require_patient(
        self, principal: PatientSide, action: str, **details: object
    ) -> Decision:
        subject = principal.subject_account_id
        return await require(
            self.uow,
            self.ctx,
            principal,
            subject,
            Permission.MESSAGE_DOCTOR,
            action=action,
            **details,
        )

    async def _origin(
        self, principal: PatientSide, origin: str, origin_id: int | None
    ) -> tuple[str | None, int | None]:
        """What the question is about, checked to be this patient's: (label, its doctor's staff)."""
        subject = principal.subject_account_id
        if origin == "lab_result" and origin_id is not None:
            result = await self.uow.record.labs.get(origin_id)
            if result is None or result.account_id != subject:
                raise DomainError(MSG_NO_ORIGIN)
            if result.sensitive:
                await require(
                    self.uow,
                    self.ctx,
                    principal,
                    subject,
                    Permission.READ_SENSITIVE,
                    action="chat.ask",
                    lab_result_id=origin_id,
                )
            day = result.collected_at or result.issued_at
            label = f"Результат анализа: {result.test_name} от {_moment(day)[:10]}"
            return label, await self._ordering_doctor(subject, result.ordered_by)
        if origin == "visit" and origin_id is not None:
            visit = await self.uow.booking.visits.get(origin_id)
            if visit is None or visit.patient_account_id != subject:
                raise DomainError(MSG_NO_ORIGIN)
            doctor = await self.uow.booking.catalog.doctor(visit.doctor_id)
            return f"Приём {_moment(visit.starts_at)}", (doctor.staff_member_id if doctor else None)
        if origin != "general":
            raise DomainError(MSG_NO_ORIGIN)
        return None, None

    async def _ordering_doctor(self, subject: int, ordered_by: str | None) -> int | None:
        """The doctor who ordered the test («Соколова М. А.»), if they answer here."""
        attachment = await self.uow.clinic.attachments.current_any(subject, self.now)
        if attachment is None or not ordered_by:
            return None
        for doctor, staff in await self.uow.chat.threads.askable_doctors(
            attachment.organisation_id, None, self.now
        ):
            name = _full_name(doctor.last_name, doctor.first_name, doctor.middle_name)
            if short_name(name) == " ".join(ordered_by.split()):
                return staff.id
        return None

    async def _choices(self, subject: int, own_staff: int | None) -> list[DoctorChoice]:
        """The doctor of the result or visit first, then the therapists of the attached
        organisation (the bot's own doctors: confirmed staff linked to a booking doctor)."""
        staff_ids: list[int] = []
        if own_staff is not None:
            staff = await self.uow.clinic.staff.get(own_staff)
            if (
                staff is not None
                and staff.role == "doctor"
                and staff.confirmed_at is not None
                and staff.confirmed_at <= self.now
            ):
                staff_ids.append(staff.id)
        attachment = await self.uow.clinic.attachments.current_any(subject, self.now)
        if attachment is not None:
            for _doctor, staff in await self.uow.chat.threads.askable_doctors(
                attachment.organisation_id, THERAPIST, self.now
            ):
                if staff.id not in staff_ids:
                    staff_ids.append(staff.id)
        return [DoctorChoice(s, await self._doctor_label(s)) for s in staff_ids]

    async def ask_options(
        self, principal: PatientSide, origin: str = "general", origin_id: int | None = None
    ) -> AskOptions:
        """Whom the patient may ask (and what about): refused without MESSAGE_DOCTOR."""
        await self._require_patient(principal, "chat.ask")
        label, own_staff = await self._origin(principal, origin, origin_id)
        doctors = await self._choices(principal.subject_account_id, own_staff)
        if not doctors:
            raise DomainError(MSG_NO_DOCTORS)
        return AskOptions(doctors, label)

    async def _store_file(
        self, message: ChatMessage, info: UploadInfo | None, name: str | None
    ) -> None:
        if info is None:
            return
        store = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_NO_STORE)
        key = await store.put(info.data)
        self.uow.after_rollback(functools.partial(store.delete, key))
        message.storage_key = key
        message.sha256 = info.sha256
        message.size = info.size
        message.mime_type = info.mime_type
        message.file_name = _clean_file_name(name, info)

    async def ask(
        self,
        principal: PatientSide,
        staff_id: int,
        text: str,
        *,
        origin: str = "general",
        origin_id: int | None = None,
        info: UploadInfo | None = None,
        file_name: str | None = None,
    ) -> int:
        """A new question to the doctor `staff_id` (one of ``ask_options``); returns the thread."""
        text = validate_text(text)
        decision = await self._require_patient(principal, "chat.ask", staff_id=staff_id)
        subject = principal.subject_account_id
        label, own_staff = await self._origin(principal, origin, origin_id)
        if staff_id not in {c.staff_id for c in await self._choices(subject, own_staff)}:
            raise DomainError(MSG_NO_DOCTOR)
        now = self.now
        thread = await self.uow.chat.threads.add_thread(
            ChatThread(
                patient_account_id=subject,
                staff_id=staff_id,
                origin=origin if label is not None else "general",
                origin_id=origin_id if label is not None else None,
                origin_label=label,
                status="waiting",
                waiting_since=now,
                created_at=now,
                updated_at=now,
            )
        )
        author, name = await self._author(principal, decision)
        message = await self._add_message(
            thread, principal, author, name, text, info, file_name, decision
        )
        await journal(
            self.uow,
            self.ctx,
            principal,
            subject,
            decision,
            "chat.ask",
            thread_id=thread.id,
            message_id=message.id,
            staff_id=staff_id,
            origin=thread.origin,
            file=info is not None,
        )
        await self._push_doctor(staff_id, thread.id, PUSH_QUESTION)
        return thread.id

    async def _add_message(
        self,
        thread: ChatThread,
        principal: PatientSide | DoctorPrincipal,
        author: str,
        name: str,
        text: str,
        info: UploadInfo | None,
        file_name: str | None,
        decision: Decision | None = None,
    ) -> ChatMessage:
        relative = author == "relative" and decision is not None
        message = ChatMessage(
            thread_id=thread.id,
            author=author,
            author_account_id=principal.account_id,
            author_staff_id=principal.staff_id if isinstance(principal, DoctorPrincipal) else None,
            author_grant_id=decision.grant_id if relative and decision else None,
            author_name=name,
            text=text,
            created_at=self.now,
        )
        await self._store_file(message, info, file_name)
        return await self.uow.chat.threads.add_message(message)

    async def _push_doctor(self, staff_id: int, thread_id: int, text: str) -> None:
        staff = await self.uow.clinic.staff.get(staff_id)
        if staff is None:
            return
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=staff.account_id,
            text=text,
            kind="chat.question",
            buttons=[Button("Открыть", ButtonAction.CHAT_DOCTOR, str(thread_id))],
        )

    async def _patient_thread(
        self, principal: PatientSide, thread_id: int, action: str
    ) -> tuple[ChatThread, Decision]:
        decision = await self._require_patient(principal, action, thread_id=thread_id)
        thread = await self.uow.chat.threads.thread(thread_id)
        if thread is None or thread.patient_account_id != principal.subject_account_id:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor_of(principal),
                action=action,
                outcome="denied",
                actor_account_id=principal.account_id,
                subject_account_id=principal.subject_account_id,
                permission=Permission.MESSAGE_DOCTOR.value,
                denied="no_thread",
                thread_id=thread_id,
            )
            raise AccessDenied(MSG_NO_THREAD)
        return thread, decision

    async def threads(self, principal: PatientSide, page: int = 0) -> ThreadsPage:
        """«Мои вопросы»: the patient's threads with their state and the unread answers."""
        decision = await self._require_patient(principal, "chat.list")
        subject = principal.subject_account_id
        total = await self.uow.chat.threads.count_of_patient(subject)
        pages = _pages(total)
        page = min(max(0, page), pages - 1)
        rows = await self.uow.chat.threads.of_patient(
            subject, offset=page * PAGE_SIZE, limit=PAGE_SIZE
        )
        unread = await self.uow.chat.threads.unread([t.id for t in rows], ("doctor",))
        await journal(
            self.uow,
            self.ctx,
            principal,
            subject,
            decision,
            "chat.list",
            count=len(rows),
            page=page + 1,
        )
        lines = []
        for thread in rows:
            doctor = await self._doctor_label(thread.staff_id)
            title = f"{doctor}, {_moment(thread.created_at)[:10]}"
            lines.append(
                ThreadLine(
                    thread.id, title, thread.status, unread.get(thread.id, 0), thread.updated_at
                )
            )
        return ThreadsPage(lines, page, pages, total)

    async def unread(self, principal: PatientSide) -> int:
        """How many answers the patient has not read (the menu's «Мои вопросы (N)»)."""
        await self._require_patient(principal, "chat.unread")
        return await self.uow.chat.threads.unread_of_patient(principal.subject_account_id)

    async def _view(self, thread: ChatThread) -> ThreadView:
        messages = await self.uow.chat.threads.messages(thread.id)
        return ThreadView(
            thread_id=thread.id,
            patient_account_id=thread.patient_account_id,
            patient=await self._account_name(thread.patient_account_id),
            doctor=await self._doctor_label(thread.staff_id),
            state=thread.status,
            origin_label=thread.origin_label,
            messages=[
                MessageView(m.id, m.author, m.author_name, m.text, m.created_at, m.file_name)
                for m in messages
            ],
        )

    async def thread(self, principal: PatientSide, thread_id: int) -> ThreadView:
        """One thread; the doctor's messages in it are read from now on (journaled)."""
        thread, decision = await self._patient_thread(principal, thread_id, "chat.view")
        read = await self.uow.chat.threads.mark_read(thread.id, ("doctor",), self.now)
        await journal(
            self.uow,
            self.ctx,
            principal,
            thread.patient_account_id,
            decision,
            "chat.view",
            thread_id=thread.id,
            read=read,
        )
        return await self._view(thread)

    async def write(
        self,
        principal: PatientSide,
        thread_id: int,
        text: str,
        *,
        info: UploadInfo | None = None,
        file_name: str | None = None,
    ) -> str:
        """The patient writes again in an open thread; it waits for the doctor again."""
        text = validate_text(text, empty=MSG_TEXT_EMPTY)
        thread, decision = await self._patient_thread(principal, thread_id, "chat.write")
        if thread.status == "closed":
            raise DomainError(MSG_CLOSED)
        author, name = await self._author(principal, decision)
        message = await self._add_message(
            thread, principal, author, name, text, info, file_name, decision
        )
        now = self.now
        if thread.status != "waiting":
            thread.status, thread.waiting_since = "waiting", now
        thread.updated_at = now
        await journal(
            self.uow,
            self.ctx,
            principal,
            thread.patient_account_id,
            decision,
            "chat.write",
            thread_id=thread.id,
            message_id=message.id,
            file=info is not None,
        )
        await self._push_doctor(thread.staff_id, thread.id, PUSH_MORE)
        return MSG_WRITTEN

    async def patient_file(
        self, principal: PatientSide, thread_id: int, message_id: int
    ) -> ChatFile:
        thread, decision = await self._patient_thread(principal, thread_id, "chat.file")
        chat_file = await self._file(thread, message_id)
        await journal(
            self.uow,
            self.ctx,
            principal,
            thread.patient_account_id,
            decision,
            "chat.file",
            thread_id=thread.id,
            message_id=message_id,
        )
        return chat_file

    async def _file(self, thread: ChatThread, message_id: int) -> ChatFile:
        message = await self.uow.chat.threads.message(message_id)
        store = self.ctx.gateways.files
        if message is None or message.thread_id != thread.id or message.storage_key is None:
            raise DomainError("Такого файла в переписке нет.")
        if store is None:
            raise DomainError(MSG_NO_STORE)
        data = await store.get(message.storage_key)
        return ChatFile(data, message.file_name or "файл", message.mime_type or "")

    # -- the doctor's side ----------------------------------------------------------------

    async def _doctor(self, user: AccountPrincipal, staff_id: int, action: str) -> DoctorPrincipal:
        """The confirmed doctor row of this account, or a refusal (journaled)."""
        staff = await own_doctor_row(self.uow, self.ctx, user.account_id, staff_id, action)
        return DoctorPrincipal(staff.id, staff.account_id, staff.organisation_id)

    async def doctor_staff(self, user: AccountPrincipal) -> int | None:
        """The account's confirmed doctor row that answers questions (the first one)."""
        for row in await self.uow.clinic.staff.of_account(user.account_id):
            if (
                row.role == "doctor"
                and row.confirmed_at is not None
                and row.confirmed_at <= self.now
            ):
                return row.id
        return None

    async def waiting(self, user: AccountPrincipal, staff_id: int) -> int:
        """How many questions wait for this doctor's answer (the cabinet's button)."""
        await self._doctor(user, staff_id, "chat.doctor.count")
        return await self.uow.chat.threads.count_waiting(staff_id)

    async def inbox(self, user: AccountPrincipal, staff_id: int, page: int = 0) -> Inbox:
        """«Вопросы пациентов»: a page of the open threads, those waiting first, the oldest
        first."""
        doctor = await self._doctor(user, staff_id, "chat.doctor.list")
        total = await self.uow.chat.threads.count_open(staff_id)
        pages = _pages(total)
        page = min(max(0, page), pages - 1)
        rows = await self.uow.chat.threads.of_staff(
            staff_id, offset=page * PAGE_SIZE, limit=PAGE_SIZE
        )
        unread = await self.uow.chat.threads.unread([t.id for t in rows], ("patient", "relative"))
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(doctor),
            action="chat.doctor.list",
            actor_account_id=user.account_id,
            count=len(rows),
            page=page + 1,
        )
        lines = []
        for thread in rows:
            since = thread.waiting_since or thread.updated_at
            title = f"{await self._account_name(thread.patient_account_id)}, {_moment(since)[:10]}"
            lines.append(
                ThreadLine(
                    thread.id, title, thread.status, unread.get(thread.id, 0), thread.updated_at
                )
            )
        waiting = await self.uow.chat.threads.count_waiting(staff_id)
        return Inbox(lines, page, pages, total, waiting=waiting)

    async def _doctor_thread(
        self, user: AccountPrincipal, staff_id: int, thread_id: int, action: str
    ) -> tuple[ChatThread, DoctorPrincipal, Decision]:
        doctor = await self._doctor(user, staff_id, action)
        thread = await self.uow.chat.threads.thread(thread_id)
        if thread is None or thread.staff_id != doctor.staff_id:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor_of(doctor),
                action=action,
                outcome="denied",
                actor_account_id=user.account_id,
                subject_account_id=thread.patient_account_id if thread else None,
                permission=Permission.ANSWER_QUESTIONS.value,
                denied="no_thread",
                thread_id=thread_id,
            )
            raise AccessDenied(MSG_NO_THREAD)
        decision = await require(
            self.uow,
            self.ctx,
            doctor,
            thread.patient_account_id,
            Permission.ANSWER_QUESTIONS,
            action=action,
            thread_id=thread_id,
        )
        return thread, doctor, decision

    async def doctor_thread(
        self, user: AccountPrincipal, staff_id: int, thread_id: int
    ) -> ThreadView:
        """The question, who asked, what it came from; the patient's messages read now."""
        thread, doctor, decision = await self._doctor_thread(
            user, staff_id, thread_id, "chat.doctor.view"
        )
        read = await self.uow.chat.threads.mark_read(thread.id, ("patient", "relative"), self.now)
        await journal(
            self.uow,
            self.ctx,
            doctor,
            thread.patient_account_id,
            decision,
            "chat.doctor.view",
            thread_id=thread.id,
            read=read,
        )
        return await self._view(thread)

    async def answer(
        self,
        user: AccountPrincipal,
        staff_id: int,
        thread_id: int,
        text: str,
        *,
        info: UploadInfo | None = None,
        file_name: str | None = None,
    ) -> str:
        """The doctor's answer; the patient gets a push with «Открыть»."""
        text = validate_text(text, empty=MSG_ANSWER_EMPTY)
        thread, doctor, decision = await self._doctor_thread(
            user, staff_id, thread_id, "chat.answer"
        )
        if thread.status == "closed":
            raise DomainError(MSG_CLOSED)
        name = await self._doctor_label(staff_id)
        message = await self._add_message(thread, doctor, "doctor", name, text, info, file_name)
        now = self.now
        thread.status, thread.waiting_since, thread.updated_at = "answered", None, now
        doctor_name = await self._account_name(user.account_id)
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=thread.patient_account_id,
            text=f"Врач {doctor_name} ответил(а) на ваш вопрос.",
            kind="chat.answer",
            buttons=[Button("Открыть", ButtonAction.CHAT, str(thread.id))],
        )
        relatives = await self._push_relatives(thread, doctor_name)
        await journal(
            self.uow,
            self.ctx,
            doctor,
            thread.patient_account_id,
            decision,
            "chat.answer",
            thread_id=thread.id,
            message_id=message.id,
            file=info is not None,
            relatives_notified=relatives,
        )
        return MSG_ANSWERED

    async def _push_relatives(self, thread: ChatThread, doctor_name: str) -> list[int]:
        """The answer's push to each relative who wrote in the thread on the patient's
        behalf, while their grant still lets them write to a doctor; returns the grants."""
        patient = thread.patient_account_id
        patient_name = await self._account_name(patient)
        notified: list[int] = []
        for grant_id in await self.uow.chat.threads.relative_grants(thread.id):
            grant = await self.uow.sharing.grants.get(grant_id)
            if grant is None or grant.patient_account_id != patient:
                continue
            relative: RelativePrincipal | AccountPrincipal
            if grant.relative_telegram_user_id is not None:
                relative = RelativePrincipal(
                    phone=grant.relative_phone,
                    telegram_user_id=grant.relative_telegram_user_id,
                    account_id=grant.relative_account_id,
                    acting_for=patient,
                )
            elif grant.relative_account_id is not None:
                relative = AccountPrincipal(grant.relative_account_id, 0, "", acting_for=patient)
            else:
                continue
            # Read afresh: a grant revoked, expired or lowered since they asked gets no push.
            decision = await authorize(
                self.uow, self.ctx, relative, patient, Permission.MESSAGE_DOCTOR
            )
            if not decision.allowed:
                continue
            text = (
                f"Врач {doctor_name} ответил(а) на вопрос, который вы задали "
                f"по карте близкого ({patient_name})."
            )
            buttons = [Button("Открыть", ButtonAction.CHAT_CARD, f"{patient}_{thread.id}")]
            if grant.relative_telegram_user_id is not None:
                await notify.to_chat(
                    self.uow,
                    self.ctx,
                    chat_id=grant.relative_telegram_user_id,
                    account_id=grant.relative_account_id,
                    text=text,
                    kind="chat.answer",
                    buttons=buttons,
                )
            else:
                assert grant.relative_account_id is not None
                await notify.to_account(
                    self.uow,
                    self.ctx,
                    account_id=grant.relative_account_id,
                    text=text,
                    kind="chat.answer",
                    buttons=buttons,
                )
            notified.append(grant.id)
        return notified

    async def close(self, user: AccountPrincipal, staff_id: int, thread_id: int) -> str:
        """«Закрыть вопрос»: the patient can no longer write into it."""
        thread, doctor, decision = await self._doctor_thread(
            user, staff_id, thread_id, "chat.close"
        )
        if thread.status == "closed":
            return MSG_CLOSED_OK
        now = self.now
        thread.status, thread.waiting_since, thread.closed_at, thread.updated_at = (
            "closed",
            None,
            now,
            now,
        )
        await journal(
            self.uow,
            self.ctx,
            doctor,
            thread.patient_account_id,
            decision,
            "chat.close",
            thread_id=thread.id,
        )
        return MSG_CLOSED_OK

    async def doctor_file(
        self, user: AccountPrincipal, staff_id: int, thread_id: int, message_id: int
    ) -> ChatFile:
        thread, doctor, decision = await self._doctor_thread(user, staff_id, thread_id, "chat.file")
        chat_file = await self._file(thread, message_id)
        await journal(
            self.uow,
            self.ctx,
            doctor,
            thread.patient_account_id,
            decision,
            "chat.file",
            thread_id=thread.id,
            message_id=message_id,
        )
        return chat_file


class ChatSender:
    """Writing with a file as one use case: the file is judged in the CPU pool first.

    Without a file it is one unit of work, as any use case; with one, the file is
    checked (services.core.files, the record's own documents' checks) before the
    unit opens, and stored in it with the message.
    """

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def _info(self, data: bytes | None) -> UploadInfo | None:
        return None if data is None else await self.ctx.cpu.run(inspect_upload, data)

    async def ask(
        self,
        principal: PatientSide,
        staff_id: int,
        text: str,
        *,
        origin: str = "general",
        origin_id: int | None = None,
        data: bytes | None = None,
        file_name: str | None = None,
    ) -> int:
        validate_text(text)
        info = await self._info(data)
        return await in_unit(
            self.work,
            lambda uow: ChatService(uow, self.ctx).ask(
                principal,
                staff_id,
                text,
                origin=origin,
                origin_id=origin_id,
                info=info,
                file_name=file_name,
            ),
        )

    async def write(
        self,
        principal: PatientSide,
        thread_id: int,
        text: str,
        *,
        data: bytes | None = None,
        file_name: str | None = None,
    ) -> str:
        validate_text(text)
        info = await self._info(data)
        return await in_unit(
            self.work,
            lambda uow: ChatService(uow, self.ctx).write(
                principal, thread_id, text, info=info, file_name=file_name
            ),
        )

    async def answer(
        self,
        user: AccountPrincipal,
        staff_id: int,
        thread_id: int,
        text: str,
        *,
        data: bytes | None = None,
        file_name: str | None = None,
    ) -> str:
        validate_text(text, empty=MSG_ANSWER_EMPTY)
        info = await self._info(data)
        return await in_unit(
            self.work,
            lambda uow: ChatService(uow, self.ctx).answer(
                user, staff_id, thread_id, text, info=info, file_name=file_name
            ),
        )
