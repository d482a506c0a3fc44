"""Processing applications for the ЭМК: the background worker's use cases.

An application goes «Заявка принята» (accepted) → «В работе» (in_work) →
«Карта открыта» (opened), «Требуются исправления» (needs_fix, with the
reasons) or «Отказано» (rejected, with the reason).

The worker (``bot.workers.processor.Processor``) runs each step in a unit of
work of its own and commits it: ``claim`` (a lease), ``start`` (accepted → in
work), then, after ``PROCESSING_DELAY_SECONDS``, ``applicant`` (what to ask
the registry), ``ask_registry`` (with no transaction open) and ``finish`` (the
checks and the decision). Every transition writes its history row, audit row
and push in the same transaction, and is a compare-and-set on the current
status (with the row locked ``FOR UPDATE`` on PostgreSQL), so an application
is decided once even if two workers hold it: the second finds the status
moved on and does nothing. A worker that dies leaves its lease to run out;
the application is then claimed again and carried on from where it stopped.

The registry is asked outside any database transaction: a remote registry
must not be waited for while rows are locked, and the local one reads the
same database through its own connection, which on SQLite (one writer,
``BEGIN IMMEDIATE``) would wait for the caller's transaction to end.

The checks (``decide``): the required documents are attached; the ОМС policy
is in force (a policy without an end date always is); the consent (of the
current version) is given; the person is in the state registry under that
СНИЛС with the same name and birth date (when the СНИЛС is unknown, the
registry is asked by name and birth date to tell a wrong СНИЛС from an
unknown person); the type of request fits (a new card
when there is none, an update when there is one). Every failed check is a
reason for «Требуются исправления». A legal restriction recorded in the
registry for the person refuses the application («Отказано»): it can't be
corrected, so it wins over the other reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.core import audit
from services.core.consent import CONSENT_VERSION
from services.core.context import AppContext
from services.core.gateways import Registry, RegistryRecord, name_key
from services.enrolment.application import record_status
from services.enrolment.documents import missing_required
from services.enrolment.form import MSK
from services.enrolment.statuses import ApplicationStatus as Status
from storage.models import Application, ApplicationDocument, MedicalRecord
from storage.uow import UnitOfWork

__all__ = [
    "ACTOR",
    "Applicant",
    "Decision",
    "Finished",
    "ProcessingService",
    "Reason",
    "RegistryAnswer",
    "Started",
]

ACTOR = "worker:processor"
CLAIMABLE = (Status.ACCEPTED, Status.IN_WORK)


@dataclass(frozen=True)
class Reason:
    code: str  # for the audit journal and for code; never personal data
    text: str  # for the person


@dataclass(frozen=True)
class Decision:
    status: str  # opened, needs_fix or rejected
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Started:
    application_id: int
    account_id: int
    started_at: datetime
    changed: bool  # False when it was already in work (taken over after a crash)


@dataclass(frozen=True)
class Applicant:
    """What the registry is asked about an application in work (kept in memory only)."""

    application_id: int
    revision: int
    snils: str | None
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    birth_date: date | None


@dataclass(frozen=True)
class RegistryAnswer:
    applicant: Applicant
    by_snils: RegistryRecord | None
    # Asked only when the СНИЛС is unknown: tells a wrong СНИЛС from an unknown person.
    by_person: RegistryRecord | None = None


@dataclass(frozen=True)
class Finished:
    application_id: int
    account_id: int
    status: str
    reasons: list[str]


R_POLICY = Reason(
    "policy_expired",
    "Срок действия полиса ОМС истёк — полис не действует. Укажите данные действующего полиса.",
)
R_CONSENT = Reason(
    "consent_missing",
    "Не дано согласие на обработку персональных данных. Прочитайте согласие и подтвердите его.",
)
R_NOT_FOUND = Reason(
    "registry_not_found",
    "Сведения о вас не найдены в государственном реестре. Проверьте СНИЛС, фамилию, имя, "
    "отчество и дату рождения.",
)
R_SNILS = Reason(
    "registry_snils_mismatch",
    "СНИЛС не совпадает со сведениями государственного реестра. Сверьте номер с документом "
    "и исправьте его.",
)
R_NAME = Reason(
    "registry_name_mismatch",
    "Фамилия, имя или отчество не совпадают со сведениями государственного реестра. "
    "Проверьте, как они написаны в паспорте.",
)
R_BIRTH = Reason(
    "registry_birth_date_mismatch",
    "Дата рождения не совпадает со сведениями государственного реестра. Проверьте её.",
)
R_RECORD_EXISTS = Reason(
    "record_exists",
    "Электронная медицинская карта у вас уже есть. Чтобы изменить данные в ней, выберите "
    "тип обращения «Обновление данных».",
)
R_NO_RECORD = Reason(
    "record_missing",
    "Электронной медицинской карты у вас ещё нет. Выберите тип обращения «Новая карта».",
)


def _documents_reason(missing: Sequence[str]) -> Reason:
    return Reason(
        "documents_missing",
        f"Не загружены документы: {', '.join(missing)}. Добавьте их к заявлению.",
    )


class ProcessingService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext, registry: Registry) -> None:
        self.uow = uow
        self.ctx = ctx
        self.registry = registry

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def claim(self, now: datetime, lease: timedelta) -> int | None:
        """Lease the next application to process until `now + lease`; its id or None.

        The oldest submitted first; one in work whose lease ran out (its worker
        died) is claimed again.
        """
        return await self.uow.enrolment.applications.claim_next(CLAIMABLE, now, now + lease)

    async def release(self, application_id: int) -> None:
        """Give the claim back (a worker stopping): another may take it at once."""
        await self.uow.enrolment.applications.move(application_id, CLAIMABLE, {"lease_until": None})

    async def start(self, application_id: int) -> Started | None:
        """accepted → in_work; None if the application is no longer waiting."""
        application = await self.uow.enrolment.applications.get_for_update(application_id)
        if application is None:
            return None
        if application.status == Status.IN_WORK:
            return Started(
                application.id,
                application.account_id,
                application.processing_started_at or self.now,
                changed=False,
            )
        now = self.now
        moved = await self.uow.enrolment.applications.move(
            application.id,
            (Status.ACCEPTED,),
            {"status": Status.IN_WORK, "processing_started_at": now, "updated_at": now},
        )
        if not moved:
            return None
        await record_status(self.uow, self.ctx, application, actor=ACTOR)
        return Started(application.id, application.account_id, now, changed=True)

    async def applicant(self, application_id: int) -> Applicant | None:
        """What to ask the registry about an application in work; None if it is not in work."""
        application = await self.uow.enrolment.applications.get(application_id)
        if application is None or application.status != Status.IN_WORK:
            return None
        a = application
        return Applicant(
            a.id, a.revision, a.snils, a.last_name, a.first_name, a.middle_name, a.birth_date
        )

    async def ask_registry(self, applicant: Applicant) -> RegistryAnswer:
        """Ask the registry; uses no database of its own: call it with no transaction open."""
        a = applicant
        by_snils = await self.registry.find(a.snils) if a.snils else None
        by_person = None
        if by_snils is None and a.last_name and a.first_name and a.birth_date:
            by_person = await self.registry.find_person(
                a.last_name, a.first_name, a.middle_name, a.birth_date
            )
        return RegistryAnswer(applicant, by_snils, by_person)

    async def finish(self, application_id: int, answer: RegistryAnswer) -> Finished | None:
        """in_work → opened, needs_fix or rejected; None if someone else decided it already.

        `answer` must be about this application as it is now (same revision);
        otherwise nothing is decided and the application is looked at again later.
        """
        application = await self.uow.enrolment.applications.get_for_update(application_id)
        if application is None or application.status != Status.IN_WORK:
            return None
        if (answer.applicant.application_id, answer.applicant.revision) != (
            application.id,
            application.revision,
        ):
            return None
        documents = await self.uow.enrolment.documents.for_application(application.id)
        decision = await self.decide(application, documents, answer)
        now = self.now
        moved = await self.uow.enrolment.applications.move(
            application.id,
            (Status.IN_WORK,),
            {
                "status": decision.status,
                "processed_at": now,
                "updated_at": now,
                "lease_until": None,
            },
        )
        if not moved:
            return None
        if decision.status == Status.OPENED:
            await self._open_record(application, now)
        texts = [r.text for r in decision.reasons]
        await record_status(
            self.uow,
            self.ctx,
            application,
            actor=ACTOR,
            reasons=texts,
            reason_codes=[r.code for r in decision.reasons],
        )
        return Finished(application.id, application.account_id, decision.status, texts)

    async def decide(
        self,
        application: Application,
        documents: Sequence[ApplicationDocument],
        answer: RegistryAnswer,
    ) -> Decision:
        """The checks; reads only (the documents and the medical record)."""
        a = application
        reasons: list[Reason] = []
        missing = missing_required(documents)
        if missing:
            reasons.append(_documents_reason([spec.short for spec in missing]))
        today = self.now.astimezone(MSK).date()
        # No end date is a policy without one («Бессрочный»): in force.
        if a.policy_end is not None and a.policy_end < today:
            reasons.append(R_POLICY)
        if a.consent_at is None or a.consent_version != CONSENT_VERSION:
            reasons.append(R_CONSENT)

        person = answer.by_snils
        if person is None:
            reasons.append(R_SNILS if answer.by_person is not None else R_NOT_FOUND)
        else:
            same_name = (
                name_key(person.last_name),
                name_key(person.first_name),
                name_key(person.middle_name),
            ) == (name_key(a.last_name), name_key(a.first_name), name_key(a.middle_name))
            if not same_name:
                reasons.append(R_NAME)
            if person.birth_date != a.birth_date:
                reasons.append(R_BIRTH)
            if same_name and person.birth_date == a.birth_date and person.legal_restriction:
                return Decision(
                    Status.REJECTED, (Reason("legal_restriction", person.legal_restriction),)
                )

        record = await self.uow.record.records.for_account(a.account_id)
        if a.kind == "new" and record is not None:
            reasons.append(R_RECORD_EXISTS)
        if a.kind == "update" and record is None:
            reasons.append(R_NO_RECORD)

        if reasons:
            return Decision(Status.NEEDS_FIX, tuple(reasons))
        return Decision(Status.OPENED)

    async def _open_record(self, application: Application, now: datetime) -> None:
        """Create the person's medical record (or, for an update, renew its personal data)."""
        a = application
        assert a.last_name and a.first_name and a.birth_date and a.sex
        assert a.snils and a.policy_number
        record = await self.uow.record.records.for_account(a.account_id)
        created = record is None
        if record is None:
            record = MedicalRecord(account_id=a.account_id, created_at=now)
        record.application_id = a.id
        record.last_name = a.last_name
        record.first_name = a.first_name
        record.middle_name = a.middle_name
        record.birth_date = a.birth_date
        record.sex = a.sex
        record.snils = a.snils
        record.policy_number = a.policy_number
        record.policy_end = a.policy_end
        record.updated_at = now
        if created:
            await self.uow.record.records.add(record)
        else:
            await self.uow.flush()
        await audit.record(
            self.uow,
            self.ctx,
            actor=ACTOR,
            action="medical_record.create" if created else "medical_record.update",
            subject_account_id=a.account_id,
            application_id=a.id,
            record_id=record.id,
        )
