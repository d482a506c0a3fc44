"""The one access rule: who may do what with whose data.

Every use case that reads or changes a person's personal or medical data asks
here first, at the moment of access: ``require(uow, ctx, principal, subject,
permission, action=...)``. The answer is read from the database on every call
(grants, staff rows, step-ups, API clients), so a grant revoked a moment ago
stops the very next call.

Principals (who asks):

* ``AccountPrincipal`` (also known as ``CurrentUser``): a portal account signed
  in through Telegram. Its own data is its own (basis ``self``); another
  account's card opens only through a relative's grant naming this account.
* ``RelativePrincipal``: a relative the patient invited by phone, known by that
  verified phone and their Telegram user id (and their account, if they have one).
* ``DoctorPrincipal``: a staff member of a medical organisation; needs a
  confirmed staff row with the role «doctor», the patient attached to that
  organisation (or a visit booked with this doctor, or a question the patient
  asked this doctor) and a fresh step-up (a second factor) for this very patient.
* ``ApiClientPrincipal``: a connected system such as a laboratory.

What each may do:

==============================  ====  ================================  ==========  ======
permission                      self  relative: view / view_download /  doctor      API
                                      full                              (step-up)   client
==============================  ====  ================================  ==========  ======
READ_PROFILE                    yes   no                                no          no
READ_IDENTITY                   yes   no                                yes         no
APPLY                           yes   no                                no          no
READ_RECORD                     yes   yes / yes / yes                   yes         no
READ_SENSITIVE                  yes   only with ``include_sensitive``   yes         no
DOWNLOAD                        yes   no / yes / yes                    yes         no
WRITE_RECORD                    no    no                                yes         no
MANAGE_VISITS                   yes   no / no / yes                     no          no
MANAGE_ACCESS                   yes   no                                no          no
MESSAGE_DOCTOR                  yes   no / no / yes                     no          no
ANSWER_QUESTIONS                no    no                                question    no
READ_SENT_EXTRACT               no    no                                sent to    no
READ_ACCOUNT_HISTORY            yes   no                                no          no
SUBMIT_LAB_RESULTS              no    no                                no          yes
==============================  ====  ================================  ==========  ======

Entries in the medical record are made by doctors, so a person does not write
to their own record (WRITE_RECORD); results arrive from laboratories only.

ANSWER_QUESTIONS is the doctor's side of the embedded chat (services.chat):
reading and answering the questions a patient addressed to this doctor. It
needs no step-up (the patient wrote to the doctor), only a confirmed staff row
of the role «doctor» and a question of this patient to this staff member
(basis ``doctor_question``); the card itself still opens with a step-up. The
patient's side of the chat (asking, reading the answers) is MESSAGE_DOCTOR.

READ_SENT_EXTRACT is a doctor opening an extract of a patient's record that a
colleague sent them («Входящие выписки»): a confirmed doctor's staff row and an
extract of this patient addressed to it (basis ``colleague_extract``); only the
file sent, never the card (which needs the organisation and a step-up).

Journal: ``authorize`` only decides and writes nothing. ``require`` writes the
audit row of a refusal itself (outcome ``denied``, with the permission and the
reason's code) before it raises ``AccessDenied``; a domain error's writes are
committed (services.core.work), so every refusal is journaled. An allowed
access is journaled by the caller, in the row of the action it performs, with
``**decision.audit_fields()`` (the permission, the basis and the grant's id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from services.core import audit
from services.core.context import AppContext
from services.core.errors import AccessDenied
from storage.models import DoctorStepUp, RelativeGrant, StaffMember
from storage.uow import UnitOfWork

__all__ = [
    "AccessDenied",
    "AccountPrincipal",
    "ApiClientPrincipal",
    "Basis",
    "CardUser",
    "CurrentUser",
    "Decision",
    "DoctorPrincipal",
    "Permission",
    "Principal",
    "RelativePrincipal",
    "actor_account_id",
    "actor_of",
    "authorize",
    "journal",
    "open_step_up",
    "require",
]

MSK = ZoneInfo("Europe/Moscow")


# -- principals -------------------------------------------------------------------


@dataclass(frozen=True)
class AccountPrincipal:
    """A portal account signed in through Telegram (the bot's ``CurrentUser``).

    ``acting_for`` is the account whose card the person has opened, when it is
    not their own (a card a relative shared with them); None means their own.
    Use cases work on ``subject_account_id`` and ask ``require`` first.
    """

    account_id: int
    session_id: int
    display_name: str
    acting_for: int | None = None

    @property
    def subject_account_id(self) -> int:
        """Whose data this person is working with now."""
        return self.account_id if self.acting_for is None else self.acting_for


# The name the dialogs, handlers and tests know the signed-in person by.
CurrentUser = AccountPrincipal


@dataclass(frozen=True)
class RelativePrincipal:
    """A relative invited by phone: their verified phone, Telegram user and maybe account."""

    phone: str
    telegram_user_id: int
    account_id: int | None = None
    # The patient whose card the relative has opened (services.sharing names it).
    acting_for: int | None = None

    @property
    def subject_account_id(self) -> int:
        """Whose card the relative is working with; refused when none was opened."""
        if self.acting_for is None:
            raise AccessDenied(MSG_NO_ACCESS)
        return self.acting_for


@dataclass(frozen=True)
class DoctorPrincipal:
    """A staff member of a medical organisation, as the staff row ``staff_id`` says."""

    staff_id: int
    account_id: int
    organisation_id: int
    # The patient whose card the doctor has opened (services.clinic names it).
    acting_for: int | None = None

    @property
    def subject_account_id(self) -> int:
        """Whose card the doctor is working with; refused when none was opened."""
        if self.acting_for is None:
            raise AccessDenied(MSG_NO_STEP_UP)
        return self.acting_for


@dataclass(frozen=True)
class ApiClientPrincipal:
    """A connected system (a laboratory) calling the API."""

    client_id: int


Principal = AccountPrincipal | RelativePrincipal | DoctorPrincipal | ApiClientPrincipal
# Who works with a card through the bot's screens: its owner, someone it was shared with,
# or a doctor who opened it with a step-up.
CardUser = AccountPrincipal | RelativePrincipal | DoctorPrincipal


def actor_of(principal: Principal) -> str:
    """How the audit journal names the principal (ids only, never personal data)."""
    match principal:
        case AccountPrincipal():
            return f"account:{principal.account_id}"
        case RelativePrincipal():
            return f"relative:{principal.telegram_user_id}"
        case DoctorPrincipal():
            return f"staff:{principal.staff_id}"
        case ApiClientPrincipal():
            return f"api:{principal.client_id}"


def actor_account_id(principal: Principal) -> int | None:
    """The portal account behind the principal, if there is one."""
    match principal:
        case AccountPrincipal() | DoctorPrincipal():
            return principal.account_id
        case RelativePrincipal():
            return principal.account_id
        case ApiClientPrincipal():
            return None


# -- permissions and decisions --------------------------------------------------


class Permission(StrEnum):
    READ_PROFILE = "profile.read"
    """The person's personal data in their profile (name, phone, documents' numbers)."""
    APPLY = "application.manage"
    """The application to open the record and its documents: oneself only."""
    READ_IDENTITY = "record.identity"
    """The record's «Личные данные и полисы»: name, birth date, СНИЛС, ОМС policies.

    A treating doctor needs them; a relative sees the medical record, not the
    person's identity documents."""
    READ_RECORD = "record.read"
    """The medical record, without the sensitive results."""
    READ_SENSITIVE = "record.read_sensitive"
    """Sensitive results in the record (on top of READ_RECORD)."""
    DOWNLOAD = "record.download"
    """Files of the record and extracts from it."""
    WRITE_RECORD = "record.write"
    """Entries in the medical record."""
    MANAGE_VISITS = "visits.manage"
    """Booking, moving and cancelling visits to doctors."""
    MANAGE_ACCESS = "access.manage"
    """Who may see the card: inviting, changing and revoking relatives' access."""
    MESSAGE_DOCTOR = "doctor.message"
    """Writing to a doctor about the card, and reading the answers."""
    ANSWER_QUESTIONS = "doctor.questions"
    """A doctor reading and answering the questions a patient addressed to them."""
    READ_SENT_EXTRACT = "doctor.sent_extract"
    """A doctor opening an extract of the record a colleague sent them (that file only)."""
    READ_ACCOUNT_HISTORY = "account.history.read"
    """One's sign-in history and the journal of one's account: oneself only."""
    SUBMIT_LAB_RESULTS = "lab_results.submit"
    """Sending results of tests into the record (a laboratory's API client)."""


class Basis(StrEnum):
    """On what ground an access was allowed."""

    SELF = "self"
    RELATIVE_GRANT = "relative_grant"
    DOCTOR_STEP_UP = "doctor_step_up"
    DOCTOR_QUESTION = "doctor_question"
    COLLEAGUE_EXTRACT = "colleague_extract"
    API_CLIENT = "api_client"


@dataclass(frozen=True)
class Decision:
    """Allowed (with its basis and the row it rests on) or denied (with the reason).

    ``grant_id`` is the id of the relative's grant, the doctor's step-up or the
    patient's question (a chat thread) the decision rests on (for a refusal: the
    one that refused), where there is one.
    ``code`` names a refusal for the journal; ``reason`` is what the person reads.
    """

    allowed: bool
    permission: Permission
    subject_account_id: int
    basis: Basis | None = None
    grant_id: int | None = None
    reason: str | None = None
    code: str | None = None
    # The level of the relative's grant the decision rests on (for the journal's line).
    level: str | None = None

    def audit_fields(self) -> dict[str, Any]:
        """What an audit row about this access carries: ``audit.record(..., **fields)``."""
        fields: dict[str, Any] = {
            "permission": self.permission.value,
            "basis": self.basis.value if self.basis else None,
        }
        if self.grant_id is not None:
            fields["grant_id"] = self.grant_id
        if self.code is not None:
            fields["denied"] = self.code
        if self.level is not None:
            fields["level"] = self.level
        return fields


def _allow(
    permission: Permission, subject: int, basis: Basis, grant_id: int | None = None
) -> Decision:
    return Decision(True, permission, subject, basis=basis, grant_id=grant_id)


def _deny(
    permission: Permission, subject: int, code: str, reason: str, grant_id: int | None = None
) -> Decision:
    return Decision(False, permission, subject, grant_id=grant_id, reason=reason, code=code)


# -- who may what -----------------------------------------------------------------

SELF_PERMISSIONS = frozenset(Permission) - {
    Permission.WRITE_RECORD,
    Permission.SUBMIT_LAB_RESULTS,
    Permission.ANSWER_QUESTIONS,
    Permission.READ_SENT_EXTRACT,
}
# Never through anyone else, whatever they were granted.
OWNER_ONLY = frozenset(
    {
        Permission.READ_PROFILE,
        Permission.APPLY,
        Permission.MANAGE_ACCESS,
        Permission.READ_ACCOUNT_HISTORY,
    }
)
LEVEL_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "view": frozenset({Permission.READ_RECORD}),
    "view_download": frozenset({Permission.READ_RECORD, Permission.DOWNLOAD}),
    "full": frozenset(
        {
            Permission.READ_RECORD,
            Permission.DOWNLOAD,
            Permission.MANAGE_VISITS,
            Permission.MESSAGE_DOCTOR,
        }
    ),
}
# How a person reads a relative's level (the journal, the grants, the cards).
LEVEL_NAMES = {
    "view": "только просмотр",
    "view_download": "просмотр и скачивание",
    "full": "полный доступ",
}
DOCTOR_PERMISSIONS = frozenset(
    {
        Permission.READ_IDENTITY,
        Permission.READ_RECORD,
        Permission.READ_SENSITIVE,
        Permission.DOWNLOAD,
        Permission.WRITE_RECORD,
    }
)
API_CLIENT_PERMISSIONS = frozenset({Permission.SUBMIT_LAB_RESULTS})

# -- the reasons a person reads -----------------------------------------------------

OWNER_ONLY_REASONS = {
    Permission.READ_PROFILE: (
        "Персональные данные профиля доступны только владельцу учётной записи."
    ),
    Permission.APPLY: "Заявление на ЭМК и документы к нему доступны только самому заявителю.",
    Permission.MANAGE_ACCESS: "Управлять доступом к карте может только её владелец.",
    Permission.READ_ACCOUNT_HISTORY: (
        "История входов и журнал действий доступны только владельцу учётной записи."
    ),
}
NOT_PERMITTED_REASONS = {
    Permission.READ_IDENTITY: ("Личные данные и полисы владельца карты этот доступ не показывает."),
    Permission.READ_RECORD: "Просматривать медицинскую карту этот доступ не позволяет.",
    Permission.READ_SENSITIVE: "Просматривать чувствительные результаты этот доступ не позволяет.",
    Permission.DOWNLOAD: "Скачивать файлы и выписки из карты этот доступ не позволяет.",
    Permission.WRITE_RECORD: (
        "Вносить записи в медицинскую карту может только врач медицинской организации, "
        "к которой прикреплён пациент."
    ),
    Permission.MANAGE_VISITS: (
        "Записаться на приём или отменить запись может только сам пациент или его "
        "представитель с полным доступом к карте."
    ),
    Permission.MESSAGE_DOCTOR: (
        "Написать врачу может только сам пациент или его представитель с полным доступом к карте."
    ),
    Permission.SUBMIT_LAB_RESULTS: (
        "Передавать результаты исследований могут только подключённые лаборатории."
    ),
    Permission.ANSWER_QUESTIONS: (
        "Отвечать на вопросы пациентов может только врач, которому пациент задал вопрос."
    ),
    Permission.READ_SENT_EXTRACT: (
        "Открыть присланную выписку может только врач, которому её отправили."
    ),
}
LEVEL_REASONS = {
    Permission.DOWNLOAD: (
        "Владелец карты открыл вам доступ только для просмотра: скачивать файлы и выписки нельзя."
    ),
    Permission.MANAGE_VISITS: (
        "Записываться на приём и отменять запись можно только с полным доступом к карте. "
        "Его может открыть владелец карты."
    ),
    Permission.MESSAGE_DOCTOR: (
        "Писать врачу можно только с полным доступом к карте. Его может открыть владелец карты."
    ),
}
MSG_NO_ACCESS = "У вас нет доступа к медицинской карте этого человека."
MSG_NOT_SENSITIVE = "Владелец карты не открыл вам доступ к чувствительным результатам."
MSG_PENDING = "Приглашение ещё не принято. Примите его, и доступ к карте откроется."
MSG_REVOKED = "Доступ к карте отозван владельцем."
MSG_STAFF_UNKNOWN = "Вы не числитесь сотрудником этой медицинской организации."
MSG_STAFF_UNCONFIRMED = (
    "Ваша работа в медицинской организации ещё не подтверждена. Доступ к картам пациентов "
    "откроется после подтверждения."
)
MSG_NOT_DOCTOR = "Медицинские карты пациентов доступны только врачам организации."
MSG_NOT_ATTACHED = "Пациент не прикреплён к вашей медицинской организации."
MSG_NO_STEP_UP = (
    "Чтобы открыть карту пациента, подтвердите доступ кодом из приложения-аутентификатора."
)
MSG_STEP_UP_EXPIRED = (
    "Срок доступа к карте пациента истёк. Подтвердите доступ кодом из "
    "приложения-аутентификатора ещё раз."
)
MSG_NOT_SENT_EXTRACT = "Такой выписки вам не присылали."
MSG_NO_QUESTION = "Этот пациент не задавал вам вопросов."
MSG_CLIENT_UNKNOWN = "Подключённая система не зарегистрирована."
MSG_CLIENT_REVOKED = "Доступ подключённой системы отозван."
MSG_CLIENT_ONLY_RESULTS = "Подключённой системе доступна только передача результатов исследований."


def _moment(value: datetime) -> str:
    return value.astimezone(MSK).strftime("%d.%m.%Y %H:%M") + " (МСК)"


def expired_reason(expires_at: datetime) -> str:
    return f"Срок доступа к карте истёк {_moment(expires_at)}."


# -- the decision -------------------------------------------------------------------


async def authorize(
    uow: UnitOfWork,
    ctx: AppContext,
    principal: Principal,
    subject_account_id: int,
    permission: Permission,
) -> Decision:
    """May `principal` do `permission` with the data of account `subject_account_id` now?

    Reads the rows it rests on afresh and writes nothing (``require`` journals).
    """
    now = ctx.gateways.clock.now()
    match principal:
        case AccountPrincipal():
            if principal.account_id == subject_account_id:
                return _for_self(permission, subject_account_id)
            return await _for_relative(
                uow, now, permission, subject_account_id, account_id=principal.account_id
            )
        case RelativePrincipal():
            return await _for_relative(
                uow,
                now,
                permission,
                subject_account_id,
                account_id=principal.account_id,
                telegram_user_id=principal.telegram_user_id,
                phone=principal.phone,
            )
        case DoctorPrincipal():
            return await _for_doctor(uow, ctx, now, principal, permission, subject_account_id)
        case ApiClientPrincipal():
            return await _for_api_client(uow, now, principal, permission, subject_account_id)


async def own_doctor_row(
    uow: UnitOfWork, ctx: AppContext, account_id: int, staff_id: int, action: str
) -> StaffMember:
    """The confirmed doctor's staff row `staff_id` of this account, or a journaled refusal.

    What a doctor does as themself before any patient is named (the cabinet's lists,
    «Вопросы пациентов», «Входящие выписки») rests on this row; a patient's data is
    then asked of `authorize` as a DoctorPrincipal.
    """
    staff = await uow.clinic.staff.get(staff_id)
    now = ctx.gateways.clock.now()
    reason: tuple[str, str] | None = None
    if staff is None or staff.account_id != account_id:
        reason = ("staff_unknown", MSG_STAFF_UNKNOWN)
    elif staff.confirmed_at is None or staff.confirmed_at > now:
        reason = ("staff_unconfirmed", MSG_STAFF_UNCONFIRMED)
    elif staff.role != "doctor":
        reason = ("not_doctor", MSG_NOT_DOCTOR)
    if reason is not None:
        await audit.record(
            uow,
            ctx,
            actor=f"account:{account_id}",
            action=action,
            outcome="denied",
            actor_account_id=account_id,
            staff_id=staff_id,
            denied=reason[0],
        )
        raise AccessDenied(reason[1])
    assert staff is not None
    return staff


async def require(
    uow: UnitOfWork,
    ctx: AppContext,
    principal: Principal,
    subject_account_id: int,
    permission: Permission,
    *,
    action: str,
    **details: Any,
) -> Decision:
    """``authorize``, and on a refusal journal it and raise ``AccessDenied`` with the reason.

    `action` names what was attempted, as the audit row of the allowed action
    would (``application.view``); `details` go into the refusal's row (ids only).
    Returns the allowing decision: pass ``**decision.audit_fields()`` to the
    audit row of the action itself.
    """
    decision = await authorize(uow, ctx, principal, subject_account_id, permission)
    if decision.allowed:
        if decision.basis == Basis.RELATIVE_GRANT and decision.grant_id is not None:
            await uow.sharing.grants.touch(decision.grant_id, ctx.gateways.clock.now())
        return decision
    await audit.record(
        uow,
        ctx,
        actor=actor_of(principal),
        action=action,
        outcome="denied",
        actor_account_id=actor_account_id(principal),
        subject_account_id=subject_account_id,
        **decision.audit_fields(),
        **details,
    )
    assert decision.reason is not None
    raise AccessDenied(decision.reason)


def _for_self(permission: Permission, subject: int) -> Decision:
    if permission in SELF_PERMISSIONS:
        return _allow(permission, subject, Basis.SELF)
    return _deny(permission, subject, "not_permitted", NOT_PERMITTED_REASONS[permission])


def _belongs(
    grant: RelativeGrant, account_id: int | None, telegram_user_id: int | None, phone: str | None
) -> bool:
    """Is the grant the asker's? An accepted grant is bound to who accepted it."""
    if account_id is not None and grant.relative_account_id == account_id:
        return True
    if grant.relative_telegram_user_id is not None:
        return telegram_user_id is not None and grant.relative_telegram_user_id == telegram_user_id
    return phone is not None and grant.relative_phone == phone


def _judge_grant(
    grant: RelativeGrant, permission: Permission, subject: int, now: datetime
) -> Decision:
    def deny(code: str, reason: str) -> Decision:
        return replace(_deny(permission, subject, code, reason, grant.id), level=grant.level)

    def allow() -> Decision:
        return replace(
            _allow(permission, subject, Basis.RELATIVE_GRANT, grant.id), level=grant.level
        )

    if grant.status == "revoked":
        return deny("grant_revoked", MSG_REVOKED)
    if grant.expires_at is not None and grant.expires_at <= now:
        return deny("grant_expired", expired_reason(grant.expires_at))
    if grant.status != "active":
        return deny("grant_pending", MSG_PENDING)
    allowed = LEVEL_PERMISSIONS.get(grant.level, frozenset())
    if permission == Permission.READ_SENSITIVE:
        if grant.include_sensitive and Permission.READ_RECORD in allowed:
            return allow()
        return deny("not_sensitive", MSG_NOT_SENSITIVE)
    if permission in allowed:
        return allow()
    reason = LEVEL_REASONS.get(permission) or NOT_PERMITTED_REASONS[permission]
    return deny("level", reason)


def _is_live(grant: RelativeGrant, now: datetime) -> bool:
    return grant.status == "active" and (grant.expires_at is None or grant.expires_at > now)


def _pick(decisions: Sequence[tuple[RelativeGrant, Decision]], now: datetime) -> Decision:
    """Of several grants: one that allows; else the refusal of a live grant; else the newest."""
    for _, decision in decisions:
        if decision.allowed:
            return decision
    live = [decision for grant, decision in decisions if _is_live(grant, now)]
    return live[-1] if live else decisions[-1][1]


async def _for_relative(
    uow: UnitOfWork,
    now: datetime,
    permission: Permission,
    subject: int,
    *,
    account_id: int | None = None,
    telegram_user_id: int | None = None,
    phone: str | None = None,
) -> Decision:
    if permission in OWNER_ONLY:
        return _deny(permission, subject, "owner_only", OWNER_ONLY_REASONS[permission])
    if permission in (
        Permission.WRITE_RECORD,
        Permission.SUBMIT_LAB_RESULTS,
        Permission.ANSWER_QUESTIONS,
        Permission.READ_SENT_EXTRACT,
    ):
        return _deny(permission, subject, "not_permitted", NOT_PERMITTED_REASONS[permission])
    grants = await uow.sharing.grants.for_relative(
        subject, account_id=account_id, telegram_user_id=telegram_user_id, phone=phone
    )
    mine = [g for g in grants if _belongs(g, account_id, telegram_user_id, phone)]
    if not mine:
        return _deny(permission, subject, "no_grant", MSG_NO_ACCESS)
    return _pick([(g, _judge_grant(g, permission, subject, now)) for g in mine], now)


def _step_up_ends(step_up: DoctorStepUp, ctx: AppContext) -> datetime:
    """When the step-up stops: its own end, never later than the policy allows."""
    longest = step_up.started_at + timedelta(minutes=ctx.policy.doctor_step_up_minutes)
    return min(step_up.expires_at, longest)


async def _for_doctor(
    uow: UnitOfWork,
    ctx: AppContext,
    now: datetime,
    doctor: DoctorPrincipal,
    permission: Permission,
    subject: int,
) -> Decision:
    if permission in OWNER_ONLY:
        return _deny(permission, subject, "owner_only", OWNER_ONLY_REASONS[permission])
    if permission not in DOCTOR_PERMISSIONS and permission not in (
        Permission.ANSWER_QUESTIONS,
        Permission.READ_SENT_EXTRACT,
    ):
        return _deny(permission, subject, "not_permitted", NOT_PERMITTED_REASONS[permission])
    staff = await uow.clinic.staff.get(doctor.staff_id)
    if (
        staff is None
        or staff.account_id != doctor.account_id
        or staff.organisation_id != doctor.organisation_id
    ):
        return _deny(permission, subject, "staff_unknown", MSG_STAFF_UNKNOWN)
    if staff.confirmed_at is None or staff.confirmed_at > now:
        return _deny(permission, subject, "staff_unconfirmed", MSG_STAFF_UNCONFIRMED)
    if staff.role != "doctor":
        return _deny(permission, subject, "not_doctor", MSG_NOT_DOCTOR)
    if permission == Permission.ANSWER_QUESTIONS:
        # The patient wrote to this doctor: no step-up, and no attachment is needed.
        thread_id = await uow.chat.threads.first_between(staff.id, subject)
        if thread_id is None:
            return _deny(permission, subject, "no_question", MSG_NO_QUESTION)
        return _allow(permission, subject, Basis.DOCTOR_QUESTION, thread_id)
    if permission == Permission.READ_SENT_EXTRACT:
        # A colleague sent this doctor an extract of the patient's record: that file only.
        extract_id = await uow.record.colleagues.first_for_patient(staff.id, subject)
        if extract_id is None:
            return _deny(permission, subject, "not_sent", MSG_NOT_SENT_EXTRACT)
        return _allow(permission, subject, Basis.COLLEAGUE_EXTRACT, extract_id)
    if (
        await uow.clinic.attachments.current(subject, staff.organisation_id, now) is None
        and not await uow.clinic.staff.has_visit_with(staff.id, subject, now)
        and await uow.chat.threads.first_between(staff.id, subject) is None
    ):
        return _deny(permission, subject, "not_attached", MSG_NOT_ATTACHED)
    step_up = await uow.clinic.step_ups.latest(staff.id, subject)
    if step_up is None or step_up.started_at > now:
        return _deny(permission, subject, "no_step_up", MSG_NO_STEP_UP)
    if _step_up_ends(step_up, ctx) <= now:
        return _deny(permission, subject, "step_up_expired", MSG_STEP_UP_EXPIRED, step_up.id)
    return _allow(permission, subject, Basis.DOCTOR_STEP_UP, step_up.id)


async def _for_api_client(
    uow: UnitOfWork,
    now: datetime,
    client: ApiClientPrincipal,
    permission: Permission,
    subject: int,
) -> Decision:
    if permission not in API_CLIENT_PERMISSIONS:
        return _deny(permission, subject, "not_permitted", MSG_CLIENT_ONLY_RESULTS)
    row = await uow.integration.clients.get(client.client_id)
    if row is None:
        return _deny(permission, subject, "client_unknown", MSG_CLIENT_UNKNOWN)
    if row.revoked_at is not None and row.revoked_at <= now:
        return _deny(permission, subject, "client_revoked", MSG_CLIENT_REVOKED)
    return _allow(permission, subject, Basis.API_CLIENT)


# -- step-ups -------------------------------------------------------------------------


async def open_step_up(
    uow: UnitOfWork,
    ctx: AppContext,
    doctor: DoctorPrincipal,
    patient_account_id: int,
    purpose: str,
) -> DoctorStepUp:
    """Record that the doctor confirmed a second factor to open this patient's card.

    Call it only after the doctor's authenticator code was verified. The card
    opens for ``ctx.policy.doctor_step_up_minutes``; ``authorize`` still checks
    the staff row and the attachment on every access.
    """
    now = ctx.gateways.clock.now()
    step_up = await uow.clinic.step_ups.add(
        DoctorStepUp(
            staff_id=doctor.staff_id,
            patient_account_id=patient_account_id,
            purpose=purpose,
            started_at=now,
            expires_at=now + timedelta(minutes=ctx.policy.doctor_step_up_minutes),
        )
    )
    await audit.record(
        uow,
        ctx,
        actor=actor_of(doctor),
        action="doctor.step_up",
        actor_account_id=doctor.account_id,
        subject_account_id=patient_account_id,
        step_up_id=step_up.id,
        purpose=purpose,
    )
    return step_up


async def journal(
    uow: UnitOfWork,
    ctx: AppContext,
    principal: Principal,
    subject_account_id: int,
    decision: Decision,
    action: str,
    **details: Any,
) -> None:
    """The audit row of an allowed access: who, whose data, on what basis, what (by ids)."""
    await audit.record(
        uow,
        ctx,
        actor=actor_of(principal),
        action=action,
        actor_account_id=actor_account_id(principal),
        subject_account_id=subject_account_id,
        **decision.audit_fields(),
        **details,
    )
