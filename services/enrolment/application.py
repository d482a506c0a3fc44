"""The application to open the ЭМК: the form, the review, the submission and the status.

The form is answered one field at a time (``FIELDS``, in order). Every value
is checked as it is entered; a wrong one raises ValidationError with the
message to show, and nothing already answered is lost. The draft lives in the
database, so leaving, coming back or a restart continues where it was. A
person has at most one application in progress (draft, accepted, in work,
needs corrections): the database guarantees it with a partial unique index.

Submitting is bound to a one-time code: ``prepare_submit`` returns an
``action_ref`` naming this exact version of the application (every change of
a field or a document bumps ``revision``), the code is issued and verified for
that ``action_ref`` (purpose ``application_submit``), and ``submit`` checks both
that a code for it was confirmed and that the application did not change since.

Wait estimate (``StatusView.eta_minutes``): the mean time from «В работе» to
the decision over the last ``PACE_SAMPLE`` decided applications — or, before
there is any, ``ctx.processing_delay_seconds`` — times the applications ahead
plus this one; for an application in work, that mean minus the time it has
been in work. Rounded up to whole minutes, at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from services.core import audit, notify
from services.core.access import CurrentUser, Decision, Permission, require
from services.core.consent import CONSENT_VERSION, consent_text
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.core.validators import (
    PASSPORT_MIN_AGE_YEARS,
    add_years,
)
from services.enrolment.documents import SlotView, missing_required, slot_views
from services.enrolment.form import (
    FIELD_BY_NAME,
    FIELDS,
    MSK,
    FieldSpec,
    ParseContext,
)
from services.enrolment.statuses import EDITABLE_STATUSES
from services.enrolment.statuses import ApplicationStatus as Status
from storage.models import Account, Application, ApplicationDocument, ApplicationStatusEvent
from storage.uow import UnitOfWork

__all__ = [
    "FIELDS",
    "STATUS_TEXT",
    "ApplicationService",
    "DraftView",
    "FieldSpec",
    "HistoryEntry",
    "ReviewView",
    "StatusView",
    "SubmitResult",
    "record_status",
]


STATUS_TEXT: dict[str, str] = {
    Status.DRAFT: "Черновик",
    Status.ACCEPTED: "Заявка принята",
    Status.IN_WORK: "В работе",
    Status.OPENED: "Карта открыта",
    Status.NEEDS_FIX: "Требуются исправления",
    Status.REJECTED: "Отказано",
}
WAITING_STATUSES = (Status.ACCEPTED, Status.IN_WORK)
SUBMIT_PURPOSE = "application_submit"
PACE_SAMPLE = 20
NOT_GIVEN = "Не указано"
NOT_FILLED = "Не заполнено"


MSG_NOT_EDITABLE = (
    "Заявление уже отправлено, изменить его сейчас нельзя. Дождитесь результата проверки: "
    "если потребуются исправления, мы сообщим."
)
MSG_NOT_OPTIONAL = "Это поле обязательное, пропустить его нельзя."
MSG_NOTHING_IN_ACCOUNT = "В учётной записи этих данных нет. Введите их, пожалуйста."
MSG_CHANGED = (
    "Заявление изменилось после того, как вы запросили код. Проверьте данные и подтвердите "
    "отправку ещё раз новым кодом."
)
MSG_NOT_CONFIRMED = "Подтвердите отправку заявления одноразовым кодом."
MSG_NO_APPLICATION = "Заявление не найдено. Откройте его заново из главного меню."
MSG_POLICY_EXPIRED = (
    "Срок действия полиса ОМС истёк — полис не действует. Укажите дату окончания "
    "действующего полиса."
)
MSG_ISSUE_DATE_CLEARED = (
    "С новой датой рождения дата выдачи паспорта приходится раньше 14-летия. "
    "Укажите дату выдачи паспорта ещё раз."
)


@dataclass(frozen=True)
class DraftView:
    application_id: int
    number: str | None
    status: str
    values: dict[str, str]  # display strings of the answered fields
    next_field: str | None  # the first field not answered yet, in FIELDS order
    complete: bool
    # Something the person should know about the last change (shown once).
    notice: str | None = None
    # The optional fields answered «Не указано» (in `values` too).
    not_given: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewView:
    number: str | None
    rows: list[tuple[str, str, str]]  # (field name, label, display value)
    missing_fields: list[str]  # labels
    documents: list[SlotView]
    missing_documents: list[str]  # labels
    can_submit: bool


@dataclass(frozen=True)
class SubmitResult:
    number: str
    status_text: str


class HistoryEntry(NamedTuple):
    status_text: str
    at: datetime
    reasons: list[str]


@dataclass(frozen=True)
class StatusView:
    application_id: int
    number: str | None
    status: str
    status_text: str
    submitted_at: datetime | None
    history: list[HistoryEntry]
    reasons: list[str]  # the reasons of the current status (corrections, refusal)
    queue_ahead: int | None  # while it waits
    eta_minutes: int | None  # while it waits
    can_fix: bool


# -- display ------------------------------------------------------------------


def _skipped(application: Application) -> list[str]:
    return list(application.skipped_fields or [])


def _answered(application: Application, spec: FieldSpec) -> bool:
    if spec.display(application) is not None:
        return True
    return spec.optional and spec.name in _skipped(application)


def _short(label: str) -> str:
    """«Дата рождения» → «дата рождения»; abbreviations (СНИЛС, ИНН) stay as they are."""
    if len(label) > 1 and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def action_ref_for(application: Application) -> str:
    return f"application:{application.id}:{application.revision}"


def _number(application: Application, now: datetime) -> str:
    return f"ЭМК-{now.astimezone(MSK).year}-{application.id:06d}"


# -- status changes (shared with the processing worker) -------------------------


def status_message(number: str | None, status: str, reasons: Sequence[str]) -> str:
    ref = f"№ {number}" if number else ""
    if status == Status.ACCEPTED:
        return f"Заявка {ref} принята. Мы сообщим, когда начнём её проверку."
    if status == Status.IN_WORK:
        return f"Заявка {ref} в работе: проверяем данные и документы."
    if status == Status.OPENED:
        return f"Заявка {ref} рассмотрена: электронная медицинская карта открыта."
    if status == Status.NEEDS_FIX:
        listed = "\n".join(f"• {r}" for r in reasons)
        return (
            f"По заявке {ref} требуются исправления:\n{listed}\n"
            "Откройте статус заявки, исправьте данные и отправьте заявление снова."
        )
    if status == Status.REJECTED:
        listed = " ".join(reasons)
        return f"По заявке {ref} отказано. {listed}".strip()
    return f"Статус заявки {ref}: {STATUS_TEXT.get(status, status)}."


async def record_status(
    uow: UnitOfWork,
    ctx: AppContext,
    application: Application,
    *,
    actor: str,
    reasons: Sequence[str] = (),
    reason_codes: Sequence[str] = (),
    actor_account_id: int | None = None,
    decision: Decision | None = None,
) -> None:
    """After the application's status changed: its history row, audit row and push.

    All three go into the caller's unit of work, with the change itself.
    `decision` is the access a person's change rests on (none for the worker's).
    """
    now = ctx.gateways.clock.now()
    await uow.enrolment.applications.add_event(
        ApplicationStatusEvent(
            application_id=application.id,
            status=application.status,
            at=now,
            reasons=list(reasons),
        )
    )
    await audit.record(
        uow,
        ctx,
        actor=actor,
        action="application.status",
        actor_account_id=actor_account_id,
        subject_account_id=application.account_id,
        application_id=application.id,
        status=application.status,
        reasons=list(reason_codes),
        **(decision.audit_fields() if decision else {}),
    )
    await notify.to_account(
        uow,
        ctx,
        account_id=application.account_id,
        text=status_message(application.number, application.status, reasons),
        kind="application_status",
        buttons=[notify.Button("Статус заявки", notify.OPEN_STATUS)],
    )


# -- the use cases --------------------------------------------------------------


class ApplicationService:
    FIELDS = FIELDS

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    @property
    def today(self) -> date:
        return self.now.astimezone(MSK).date()

    @staticmethod
    def consent_text() -> str:
        return consent_text()

    # -- helpers --

    def _actor(self, user: CurrentUser) -> str:
        return f"account:{user.account_id}"

    async def _require(self, user: CurrentUser, action: str) -> Decision:
        """May the person work with this application now? Only their own (APPLY).

        Raises AccessDenied (journaled) otherwise. Once allowed, the subject is
        the person themself, so the use cases go on with ``user.account_id``.
        """
        return await require(
            self.uow, self.ctx, user, user.subject_account_id, Permission.APPLY, action=action
        )

    async def _audit(
        self,
        user: CurrentUser,
        decision: Decision,
        action: str,
        application: Application,
        **details: Any,
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=self._actor(user),
            action=action,
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            application_id=application.id,
            session_id=user.session_id,
            **decision.audit_fields(),
            **details,
        )

    async def _account(self, user: CurrentUser) -> Account:
        return await self._account_by_id(user.account_id)

    async def _current(
        self, user: CurrentUser, decision: Decision, *, for_update: bool = False
    ) -> Application:
        """The application in progress, a new draft when there is none."""
        found = await self.uow.enrolment.applications.in_progress_for(
            user.account_id, for_update=for_update
        )
        if found is not None:
            return found
        # Lock the account so that two concurrent calls make one draft (PostgreSQL);
        # the partial unique index is the guarantee either way.
        await self.uow.identity.accounts.get_for_update(user.account_id)
        found = await self.uow.enrolment.applications.in_progress_for(
            user.account_id, for_update=True
        )
        if found is not None:
            return found
        now = self.now
        application = await self.uow.enrolment.applications.add(
            Application(
                account_id=user.account_id,
                status=Status.DRAFT,
                revision=0,
                skipped_fields=[],
                created_at=now,
                updated_at=now,
                attempt=0,
            )
        )
        await self._audit(user, decision, "application.create", application)
        return application

    async def _editable(self, user: CurrentUser, decision: Decision) -> Application:
        application = await self._current(user, decision, for_update=True)
        if application.status not in EDITABLE_STATUSES:
            raise DomainError(MSG_NOT_EDITABLE)
        return application

    def _touch(self, application: Application) -> None:
        application.revision += 1
        application.updated_at = self.now

    async def _view(self, application: Application, notice: str | None = None) -> DraftView:
        values: dict[str, str] = {}
        not_given: list[str] = []
        next_field: str | None = None
        for spec in FIELDS:
            shown = spec.display(application)
            if shown is not None:
                values[spec.name] = shown
            elif spec.optional and spec.name in _skipped(application):
                values[spec.name] = NOT_GIVEN
                not_given.append(spec.name)
            elif next_field is None:
                next_field = spec.name
        return DraftView(
            application_id=application.id,
            number=application.number,
            status=application.status,
            values=values,
            next_field=next_field,
            complete=next_field is None,
            notice=notice,
            not_given=tuple(not_given),
        )

    async def _account_by_id(self, account_id: int) -> Account:
        account = await self.uow.identity.accounts.get(account_id)
        if account is None:
            raise NotFoundError("Учётная запись не найдена. Войдите заново.")
        return account

    @staticmethod
    def _spec(name: str) -> FieldSpec:
        try:
            return FIELD_BY_NAME[name]
        except KeyError:
            raise ValueError(f"unknown application field {name!r}") from None

    async def _documents(self, application: Application) -> Sequence[ApplicationDocument]:
        return await self.uow.enrolment.documents.for_application(application.id)

    def _problems(
        self, application: Application, documents: Sequence[ApplicationDocument]
    ) -> list[str]:
        problems = []
        missing = [spec for spec in FIELDS if not _answered(application, spec)]
        if missing:
            problems.append(
                "Не заполнены поля: " + "; ".join(_short(s.label) for s in missing) + "."
            )
        missing_docs = missing_required(documents)
        if missing_docs:
            problems.append(
                "Не хватает документов: " + ", ".join(s.short for s in missing_docs) + "."
            )
        if application.policy_end is not None and application.policy_end < self.today:
            problems.append(MSG_POLICY_EXPIRED)
        return problems

    # -- the form --

    async def draft(self, user: CurrentUser) -> DraftView:
        """The application in progress (a new draft when there is none).

        ``status != "draft"`` means it was submitted: the dialog shows its status.
        """
        decision = await self._require(user, "application.draft")
        return await self._view(await self._current(user, decision))

    async def account_phone(self, user: CurrentUser) -> str:
        """The account's own phone (E.164), offered at the phone question."""
        await self._require(user, "application.account_phone")
        return (await self._account(user)).phone

    async def account_value(self, user: CurrentUser, name: str) -> str | None:
        """What the portal account knows for field `name`, as the person would type it.

        Offered at the question as a button; None when the account has nothing for it.
        """
        await self._require(user, "application.account_value")
        spec = self._spec(name)
        if spec.from_account is None:
            return None
        return spec.from_account(await self._account(user))

    async def record_open(self, user: CurrentUser) -> bool:
        """Is the person's electronic medical record open? (for the main menu)"""
        await self._require(user, "application.record_open")
        return await self.uow.record.records.for_account(user.account_id) is not None

    async def set_field(self, user: CurrentUser, name: str, raw: str) -> DraftView:
        decision = await self._require(user, "application.field")
        return await self._set_field(user, decision, name, raw)

    async def use_account_value(self, user: CurrentUser, name: str) -> DraftView:
        """Answer field `name` with what the portal account knows (checked as if typed)."""
        decision = await self._require(user, "application.field")
        spec = self._spec(name)
        known = spec.from_account(await self._account(user)) if spec.from_account else None
        if known is None:
            raise DomainError(MSG_NOTHING_IN_ACCOUNT)
        return await self._set_field(user, decision, name, known, source="account")

    async def _set_field(
        self,
        user: CurrentUser,
        decision: Decision,
        name: str,
        raw: str,
        *,
        source: str | None = None,
    ) -> DraftView:
        spec = self._spec(name)
        if spec.kind == "consent":
            raise ValueError("the consent is given with accept_consent()")
        application = await self._editable(user, decision)
        values = dict(spec.parse(raw, ParseContext(application, self.today)))
        notice = None
        if spec.name == "birth_date":
            born = values["birth_date"]
            assert isinstance(born, date)
            issued = application.passport_issue_date
            if issued is not None and issued < add_years(born, PASSPORT_MIN_AGE_YEARS):
                values["passport_issue_date"] = None
                notice = MSG_ISSUE_DATE_CLEARED
        skipped = [f for f in _skipped(application) if f != spec.name]
        if spec.empty_is_answer and all(values.get(c) is None for c in spec.stored_in):
            skipped.append(spec.name)  # answered with no value: «Не указано», «Бессрочный»
        for column, value in values.items():
            setattr(application, column, value)
        application.skipped_fields = skipped
        self._touch(application)
        await self._audit(
            user,
            decision,
            "application.field",
            application,
            field=spec.name,
            cleared=["passport_issue_date"] if notice else [],
            **({"source": source} if source else {}),
        )
        return await self._view(application, notice)

    async def skip_field(self, user: CurrentUser, name: str) -> DraftView:
        decision = await self._require(user, "application.field")
        spec = self._spec(name)
        if not spec.optional:
            raise DomainError(MSG_NOT_OPTIONAL)
        application = await self._editable(user, decision)
        for column in spec.stored_in:
            setattr(application, column, None)
        application.skipped_fields = [*(f for f in _skipped(application) if f != name), name]
        self._touch(application)
        await self._audit(
            user, decision, "application.field", application, field=name, skipped=True
        )
        return await self._view(application)

    async def use_account_phone(self, user: CurrentUser) -> DraftView:
        return await self.use_account_value(user, "phone")

    async def accept_consent(self, user: CurrentUser) -> DraftView:
        decision = await self._require(user, "application.consent")
        application = await self._editable(user, decision)
        application.consent_version = CONSENT_VERSION
        application.consent_at = self.now
        self._touch(application)
        await self._audit(
            user, decision, "application.consent", application, version=CONSENT_VERSION
        )
        return await self._view(application)

    # -- review and submission --

    async def _audit_read(
        self, user: CurrentUser, decision: Decision, action: str, application_id: int
    ) -> None:
        """Showing personal data is an action on it too: journal who read what."""
        await audit.record(
            self.uow,
            self.ctx,
            actor=f"account:{user.account_id}",
            action=action,
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            application_id=application_id,
            **decision.audit_fields(),
        )

    async def review(self, user: CurrentUser) -> ReviewView:
        decision = await self._require(user, "application.view")
        application = await self._current(user, decision)
        await self._audit_read(user, decision, "application.view", application.id)
        documents = await self._documents(application)
        rows = []
        for spec in FIELDS:
            shown = spec.display(application)
            if shown is None:
                skipped = spec.optional and spec.name in _skipped(application)
                shown = NOT_GIVEN if skipped else NOT_FILLED
            rows.append((spec.name, spec.label, shown))
        return ReviewView(
            number=application.number,
            rows=rows,
            missing_fields=[s.label for s in FIELDS if not _answered(application, s)],
            documents=slot_views(documents),
            missing_documents=[s.label for s in missing_required(documents)],
            can_submit=(
                application.status in EDITABLE_STATUSES
                and not self._problems(application, documents)
            ),
        )

    async def prepare_submit(self, user: CurrentUser) -> str:
        """The action_ref to confirm with a one-time code, or DomainError with what is missing."""
        decision = await self._require(user, "application.prepare_submit")
        application = await self._editable(user, decision)
        problems = self._problems(application, await self._documents(application))
        if problems:
            raise DomainError(" ".join(problems))
        return action_ref_for(application)

    async def _confirmed(self, user: CurrentUser, action_ref: str) -> bool:
        challenge = await self.uow.identity.otp.latest(user.account_id, SUBMIT_PURPOSE)
        if challenge is None or challenge.action_ref != action_ref or challenge.consumed_at is None:
            return False
        # The code must have been confirmed just now, not for some earlier attempt.
        window = timedelta(seconds=self.ctx.policy.otp_ttl_seconds)
        return self.now - challenge.consumed_at <= window

    async def submit(self, user: CurrentUser, action_ref: str) -> SubmitResult:
        """Send the application, after the one-time code for `action_ref` was confirmed."""
        decision = await self._require(user, "application.submit")
        application = await self.uow.enrolment.applications.in_progress_for(
            user.account_id, for_update=True
        )
        if application is None:
            raise NotFoundError(MSG_NO_APPLICATION)
        if application.status not in EDITABLE_STATUSES:
            raise DomainError(MSG_NOT_EDITABLE)
        if action_ref != action_ref_for(application):
            raise DomainError(MSG_CHANGED)
        if not await self._confirmed(user, action_ref):
            raise DomainError(MSG_NOT_CONFIRMED)
        problems = self._problems(application, await self._documents(application))
        if problems:
            raise DomainError(" ".join(problems))
        now = self.now
        resubmission = application.status == Status.NEEDS_FIX
        if application.number is None:
            application.number = _number(application, now)
        application.status = Status.ACCEPTED
        application.submitted_at = now
        application.lease_until = None
        self._touch(application)
        await self.uow.flush()
        await self._audit(
            user, decision, "application.submit", application, resubmission=resubmission
        )
        await record_status(
            self.uow,
            self.ctx,
            application,
            actor=self._actor(user),
            actor_account_id=user.account_id,
            decision=decision,
        )
        return SubmitResult(number=application.number, status_text=STATUS_TEXT[Status.ACCEPTED])

    # -- status --

    async def _pace_seconds(self) -> float:
        durations = await self.uow.enrolment.applications.recent_durations(PACE_SAMPLE)
        if durations:
            return sum(durations) / len(durations)
        return float(self.ctx.processing_delay_seconds)

    async def _for_status(self, account_id: int) -> Application | None:
        """The application the status screen is about.

        A submitted one in progress; else the latest submitted one (so that a
        new draft does not hide «Карта открыта» or «Отказано»); else the draft.
        """
        repo = self.uow.enrolment.applications
        current = await repo.in_progress_for(account_id)
        if current is not None and current.status != Status.DRAFT:
            return current
        return await repo.latest_for(account_id, except_statuses=(Status.DRAFT,)) or current

    async def status(self, user: CurrentUser) -> StatusView | None:
        """The state of the person's application (see `_for_status`); None if there is none."""
        decision = await self._require(user, "application.status.view")
        application = await self._for_status(user.account_id)
        if application is None:
            return None
        await self._audit_read(user, decision, "application.status.view", application.id)
        events = await self.uow.enrolment.applications.events(application.id)
        history = [HistoryEntry(STATUS_TEXT[e.status], e.at, list(e.reasons)) for e in events]
        reasons: list[str] = []
        if events and events[-1].status == application.status:
            reasons = list(events[-1].reasons)
        queue_ahead: int | None = None
        eta_minutes: int | None = None
        if application.status in WAITING_STATUSES and application.submitted_at is not None:
            pace = await self._pace_seconds()
            if application.status == Status.ACCEPTED:
                queue_ahead = await self.uow.enrolment.applications.count_ahead(
                    Status.ACCEPTED, application.submitted_at, application.id
                )
                seconds = pace * (queue_ahead + 1)
            else:
                queue_ahead = 0
                started = application.processing_started_at or self.now
                seconds = pace - (self.now - started).total_seconds()
            eta_minutes = max(1, math.ceil(seconds / 60))
        return StatusView(
            application_id=application.id,
            number=application.number,
            status=application.status,
            status_text=STATUS_TEXT[application.status],
            submitted_at=application.submitted_at,
            history=history,
            reasons=reasons,
            queue_ahead=queue_ahead,
            eta_minutes=eta_minutes,
            can_fix=application.status == Status.NEEDS_FIX,
        )
