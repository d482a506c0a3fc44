"""Who may do what with whose data: the whole principal × permission × grant state matrix.

Every case builds real rows (grants, staff, attachments, step-ups, API clients)
in a fresh database — SQLite and PostgreSQL — and asks ``authorize`` for every
permission. The expected answers are written out here from the rules, with the
exact Russian reasons, independently of the tables in services.core.access.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from services.core.access import (
    AccessDenied,
    AccountPrincipal,
    ApiClientPrincipal,
    Basis,
    CurrentUser,
    Decision,
    DoctorPrincipal,
    Permission,
    Principal,
    RelativePrincipal,
    authorize,
    open_step_up,
    require,
)
from services.core.context import AppContext, SecurityPolicy
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.enrolment.application import ApplicationService
from services.enrolment.documents import DocumentService
from services.identity.auth import AuthService
from storage.models import (
    Account,
    ApiClient,
    Application,
    ApplicationDocument,
    AuditEntry,
    ChatThread,
    ColleagueExtract,
    DoctorStepUp,
    Organisation,
    PatientAttachment,
    RelativeGrant,
    StaffMember,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.application import (
    PETROV_PHONE,
    SMIRNOVA_PHONE,
    call,
    draft,
    fill_form,
    in_uow,
    make_png,
    seed,
    sign_in,
    submit,
    upload,
    upload_required,
    use_file_store,
)
from tests.support.services import Env

P = Permission

# -- the reasons, as the person reads them ---------------------------------------------

OWNER_PROFILE = "Персональные данные профиля доступны только владельцу учётной записи."
OWNER_APPLY = "Заявление на ЭМК и документы к нему доступны только самому заявителю."
OWNER_ACCESS = "Управлять доступом к карте может только её владелец."
OWNER_HISTORY = "История входов и журнал действий доступны только владельцу учётной записи."
ONLY_DOCTOR_WRITES = (
    "Вносить записи в медицинскую карту может только врач медицинской организации, "
    "к которой прикреплён пациент."
)
RELATIVE_IDENTITY = "Личные данные и полисы владельца карты этот доступ не показывает."
ONLY_LABS = "Передавать результаты исследований могут только подключённые лаборатории."
ONLY_FULL_VISITS = (
    "Записаться на приём или отменить запись может только сам пациент или его "
    "представитель с полным доступом к карте."
)
ONLY_FULL_MESSAGE = (
    "Написать врачу может только сам пациент или его представитель с полным доступом к карте."
)
NO_ACCESS = "У вас нет доступа к медицинской карте этого человека."
REVOKED = "Доступ к карте отозван владельцем."
PENDING = "Приглашение ещё не принято. Примите его, и доступ к карте откроется."
NOT_SENSITIVE = "Владелец карты не открыл вам доступ к чувствительным результатам."
LEVEL_DOWNLOAD = (
    "Владелец карты открыл вам доступ только для просмотра: скачивать файлы и выписки нельзя."
)
LEVEL_VISITS = (
    "Записываться на приём и отменять запись можно только с полным доступом к карте. "
    "Его может открыть владелец карты."
)
LEVEL_MESSAGE = (
    "Писать врачу можно только с полным доступом к карте. Его может открыть владелец карты."
)
STAFF_UNKNOWN = "Вы не числитесь сотрудником этой медицинской организации."
STAFF_UNCONFIRMED = (
    "Ваша работа в медицинской организации ещё не подтверждена. Доступ к картам пациентов "
    "откроется после подтверждения."
)
NOT_DOCTOR = "Медицинские карты пациентов доступны только врачам организации."
NOT_ATTACHED = "Пациент не прикреплён к вашей медицинской организации."
NO_STEP_UP = "Чтобы открыть карту пациента, подтвердите доступ кодом из приложения-аутентификатора."
STEP_UP_EXPIRED = (
    "Срок доступа к карте пациента истёк. Подтвердите доступ кодом из "
    "приложения-аутентификатора ещё раз."
)
ONLY_QUESTIONED = "Отвечать на вопросы пациентов может только врач, которому пациент задал вопрос."
NO_QUESTION = "Этот пациент не задавал вам вопросов."
ONLY_SENT = "Открыть присланную выписку может только врач, которому её отправили."
NOT_SENT = "Такой выписки вам не присылали."
CLIENT_ONLY_RESULTS = "Подключённой системе доступна только передача результатов исследований."
CLIENT_REVOKED = "Доступ подключённой системы отозван."
CLIENT_UNKNOWN = "Подключённая система не зарегистрирована."
# FrozenClock starts at 26.11.2026 09:00 UTC, 12:00 in Moscow; expired grants ended a day ago.
EXPIRED = "Срок доступа к карте истёк 25.11.2026 12:00 (МСК)."

REL_PHONE = "+79990000011"
REL_TG = 7001
OTHER_TG = 7002

# -- the world every case starts from ---------------------------------------------------


@dataclass(frozen=True)
class World:
    patient: int
    other_patient: int
    relative: int  # the relative's own portal account
    stranger: int
    doctor: int  # the doctor's portal account
    org: int
    other_org: int
    now: datetime


@pytest.fixture
def db_env(uow_factory: UnitOfWorkFactory) -> Env:
    """Services over the parametrized database (SQLite and PostgreSQL), frozen clock."""
    clock, sms, mail = FrozenClock(), ConsoleSms(), ConsoleMail()
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=sms, mail=mail),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    return Env(ctx, clock, sms, mail, uow_factory)


async def _account(uow: UnitOfWork, phone: str, name: str, now: datetime) -> int:
    account = await uow.identity.accounts.add(
        Account(
            phone=phone,
            last_name=name,
            first_name="Тест",
            password_hash="-",
            failed_password_attempts=0,
            created_at=now,
        )
    )
    return account.id


async def _organisation(uow: UnitOfWork, name: str, ogrn: str, now: datetime) -> int:
    org = await uow.clinic.organisations.add(Organisation(name=name, ogrn=ogrn, created_at=now))
    return org.id


@pytest.fixture
async def world(db_env: Env) -> World:
    now = db_env.clock.now()

    async def build(uow: UnitOfWork) -> World:
        return World(
            patient=await _account(uow, "+79990000010", "Пациентова", now),
            other_patient=await _account(uow, "+79990000012", "Другова", now),
            relative=await _account(uow, REL_PHONE, "Родственникова", now),
            stranger=await _account(uow, "+79990000013", "Посторонний", now),
            doctor=await _account(uow, "+79990000014", "Врачова", now),
            org=await _organisation(uow, "ГБУЗ «Городская поликлиника № 1»", "1027700000001", now),
            other_org=await _organisation(uow, "ГБУЗ «Больница № 2»", "1027700000002", now),
            now=now,
        )

    return await in_uow(db_env, build)


# -- rows ----------------------------------------------------------------------------------


async def add_grant(
    uow: UnitOfWork,
    w: World,
    *,
    level: str = "view",
    state: str = "active",
    sensitive: bool = False,
    patient: int | None = None,
    tg: int | None = REL_TG,
    account: int | None = None,
) -> RelativeGrant:
    """A grant to the relative: active, expired, revoked (after acceptance) or pending."""
    now = w.now
    accepted = state != "pending"
    grant = RelativeGrant(
        patient_account_id=patient or w.patient,
        relative_phone=REL_PHONE,
        relative_telegram_user_id=tg if accepted else None,
        relative_account_id=account,
        relationship="parent",
        level=level,
        include_sensitive=sensitive,
        status={"active": "active", "expired": "active"}.get(state, state),
        created_at=now - timedelta(days=30),
        accepted_at=now - timedelta(days=29) if accepted else None,
        revoked_at=now - timedelta(days=1) if state == "revoked" else None,
        expires_at=now - timedelta(days=1) if state == "expired" else None,
    )
    return await uow.sharing.grants.add(grant)


async def add_staff(
    uow: UnitOfWork, w: World, *, confirmed: bool = True, role: str = "doctor"
) -> StaffMember:
    return await uow.clinic.staff.add(
        StaffMember(
            account_id=w.doctor,
            organisation_id=w.org,
            role=role,
            specialty="терапевт",
            created_at=w.now - timedelta(days=100),
            confirmed_at=w.now - timedelta(days=99) if confirmed else None,
        )
    )


async def attach(uow: UnitOfWork, w: World, *, until: datetime | None = None) -> None:
    await uow.clinic.attachments.add(
        PatientAttachment(
            patient_account_id=w.patient,
            organisation_id=w.org,
            since=w.now - timedelta(days=365),
            until=until,
        )
    )


async def add_step_up(
    uow: UnitOfWork,
    staff: StaffMember,
    patient: int,
    started: datetime,
    expires: datetime,
) -> DoctorStepUp:
    return await uow.clinic.step_ups.add(
        DoctorStepUp(
            staff_id=staff.id,
            patient_account_id=patient,
            purpose="приём",
            started_at=started,
            expires_at=expires,
        )
    )


async def add_client(uow: UnitOfWork, w: World, *, revoked: bool = False) -> ApiClient:
    return await uow.integration.clients.add(
        ApiClient(
            name="Лаборатория «Анализ»",
            kind="laboratory",
            created_at=w.now - timedelta(days=10),
            revoked_at=w.now - timedelta(hours=1) if revoked else None,
        )
    )


async def add_question(uow: UnitOfWork, w: World, staff: StaffMember) -> ChatThread:
    """A question of the patient to the staff member (the chat's thread)."""
    return await uow.chat.threads.add_thread(
        ChatThread(
            patient_account_id=w.patient,
            staff_id=staff.id,
            origin="general",
            status="waiting",
            waiting_since=w.now - timedelta(days=1),
            created_at=w.now - timedelta(days=1),
            updated_at=w.now - timedelta(days=1),
        )
    )


def relative() -> RelativePrincipal:
    return RelativePrincipal(phone=REL_PHONE, telegram_user_id=REL_TG)


# -- the expected answers --------------------------------------------------------------------


@dataclass(frozen=True)
class Allow:
    basis: Basis


Expected = Allow | str
# Builds the case's rows; returns who asks and the row an allowed access rests on.
Setup = Callable[[UnitOfWork, World], Awaitable[tuple[Principal, int | None]]]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    expected: Mapping[Permission, Expected]


def full(table: Mapping[Permission, Expected]) -> dict[Permission, Expected]:
    assert set(table) == set(Permission), f"missing {set(Permission) - set(table)}"
    return dict(table)


NOT_OWNER: dict[Permission, Expected] = {
    P.READ_PROFILE: OWNER_PROFILE,
    P.APPLY: OWNER_APPLY,
    P.MANAGE_ACCESS: OWNER_ACCESS,
    P.READ_ACCOUNT_HISTORY: OWNER_HISTORY,
}
RECORD = (
    P.READ_IDENTITY,
    P.READ_RECORD,
    P.READ_SENSITIVE,
    P.DOWNLOAD,
    P.MANAGE_VISITS,
    P.MESSAGE_DOCTOR,
)
DOCTOR = (P.READ_IDENTITY, P.READ_RECORD, P.READ_SENSITIVE, P.DOWNLOAD, P.WRITE_RECORD)


def as_relative(record: Mapping[Permission, Expected]) -> dict[Permission, Expected]:
    """Anyone who is not the owner, before looking at grants: the record permissions vary."""
    return full(
        {
            **NOT_OWNER,
            P.WRITE_RECORD: ONLY_DOCTOR_WRITES,
            P.SUBMIT_LAB_RESULTS: ONLY_LABS,
            P.ANSWER_QUESTIONS: ONLY_QUESTIONED,
            P.READ_SENT_EXTRACT: ONLY_SENT,
            **record,
        }
    )


def all_record(reason: str) -> dict[Permission, Expected]:
    return as_relative(dict.fromkeys(RECORD, reason))


LEVELS: dict[str, dict[Permission, Expected]] = {
    "view": {
        P.READ_IDENTITY: RELATIVE_IDENTITY,
        P.READ_RECORD: Allow(Basis.RELATIVE_GRANT),
        P.DOWNLOAD: LEVEL_DOWNLOAD,
        P.MANAGE_VISITS: LEVEL_VISITS,
        P.MESSAGE_DOCTOR: LEVEL_MESSAGE,
    },
    "view_download": {
        P.READ_IDENTITY: RELATIVE_IDENTITY,
        P.READ_RECORD: Allow(Basis.RELATIVE_GRANT),
        P.DOWNLOAD: Allow(Basis.RELATIVE_GRANT),
        P.MANAGE_VISITS: LEVEL_VISITS,
        P.MESSAGE_DOCTOR: LEVEL_MESSAGE,
    },
    "full": {
        P.READ_IDENTITY: RELATIVE_IDENTITY,
        P.READ_RECORD: Allow(Basis.RELATIVE_GRANT),
        P.DOWNLOAD: Allow(Basis.RELATIVE_GRANT),
        P.MANAGE_VISITS: Allow(Basis.RELATIVE_GRANT),
        P.MESSAGE_DOCTOR: Allow(Basis.RELATIVE_GRANT),
    },
}


def active_grant(level: str, sensitive: bool) -> dict[Permission, Expected]:
    sensitive_answer: Expected = Allow(Basis.RELATIVE_GRANT) if sensitive else NOT_SENSITIVE
    return as_relative({**LEVELS[level], P.READ_SENSITIVE: sensitive_answer})


STAFF_REFUSALS = (STAFF_UNCONFIRMED, NOT_DOCTOR, STAFF_UNKNOWN)


def as_doctor(
    answer: Expected, question: Expected | None = None, sent: Expected | None = None
) -> dict[Permission, Expected]:
    """The record's permissions answer `answer`; the patient's questions answer `question`
    and an extract sent by a colleague `sent` (by default: the staff row's refusal, else
    «no question was asked» / «no extract was sent»)."""
    if question is None:
        question = answer if answer in STAFF_REFUSALS else NO_QUESTION
    if sent is None:
        sent = answer if answer in STAFF_REFUSALS else NOT_SENT
    return full(
        {
            **NOT_OWNER,
            P.MANAGE_VISITS: ONLY_FULL_VISITS,
            P.MESSAGE_DOCTOR: ONLY_FULL_MESSAGE,
            P.SUBMIT_LAB_RESULTS: ONLY_LABS,
            P.ANSWER_QUESTIONS: question,
            P.READ_SENT_EXTRACT: sent,
            **dict.fromkeys(DOCTOR, answer),
        }
    )


def as_api_client(answer: Expected) -> dict[Permission, Expected]:
    return full({**dict.fromkeys(Permission, CLIENT_ONLY_RESULTS), P.SUBMIT_LAB_RESULTS: answer})


# -- the cases ------------------------------------------------------------------------------


def self_case() -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        await add_grant(uow, w, level="full")  # others' grants change nothing for the owner
        return CurrentUser(w.patient, 1, "Тест"), None

    expected: dict[Permission, Expected] = {p: Allow(Basis.SELF) for p in Permission}
    expected[P.WRITE_RECORD] = ONLY_DOCTOR_WRITES
    expected[P.SUBMIT_LAB_RESULTS] = ONLY_LABS
    expected[P.ANSWER_QUESTIONS] = ONLY_QUESTIONED
    expected[P.READ_SENT_EXTRACT] = ONLY_SENT
    return Case("self", setup, full(expected))


def stranger_case() -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        await add_grant(uow, w, level="full", sensitive=True)  # the relative's, not theirs
        return AccountPrincipal(w.stranger, 2, "Тест"), None

    return Case("stranger-account", setup, all_record(NO_ACCESS))


def relative_case(level: str, state: str, sensitive: bool) -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        grant = await add_grant(uow, w, level=level, state=state, sensitive=sensitive)
        return relative(), grant.id

    expected = {
        "active": lambda: active_grant(level, sensitive),
        "expired": lambda: all_record(EXPIRED),
        "revoked": lambda: all_record(REVOKED),
        "pending": lambda: all_record(PENDING),
    }[state]()
    flag = "sensitive" if sensitive else "plain"
    return Case(f"relative-{level}-{state}-{flag}", setup, expected)


def relative_account_case(level: str, sensitive: bool) -> Case:
    """A relative with a portal account, signed in as themselves, opening the shared card."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        grant = await add_grant(
            uow, w, level=level, sensitive=sensitive, tg=None, account=w.relative
        )
        return AccountPrincipal(w.relative, 3, "Тест"), grant.id

    flag = "sensitive" if sensitive else "plain"
    return Case(f"relative-account-{level}-{flag}", setup, active_grant(level, sensitive))


def relative_other_telegram_case() -> Case:
    """The same phone from another Telegram account than the one that accepted the grant."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        await add_grant(uow, w, level="full", sensitive=True)
        return RelativePrincipal(phone=REL_PHONE, telegram_user_id=OTHER_TG), None

    return Case("relative-other-telegram", setup, all_record(NO_ACCESS))


def relative_grant_of_another_patient_case() -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        await add_grant(uow, w, level="full", sensitive=True, patient=w.other_patient)
        return relative(), None

    return Case("relative-grant-for-another-patient", setup, all_record(NO_ACCESS))


def relative_regranted_case() -> Case:
    """A revoked old grant and a newer active one: the active one counts."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        await add_grant(uow, w, level="full", state="revoked", sensitive=True)
        grant = await add_grant(uow, w, level="view")
        return relative(), grant.id

    return Case("relative-revoked-then-granted-again", setup, active_grant("view", False))


STEP_UPS = ("fresh", "expired", "absent", "other-patient")


def doctor_case(confirmed: bool, attached: bool, step_up: str) -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w, confirmed=confirmed)
        if attached:
            await attach(uow, w)
        row_id = None
        now = w.now
        if step_up == "fresh":
            row = await add_step_up(
                uow, staff, w.patient, now - timedelta(minutes=5), now + timedelta(minutes=10)
            )
            row_id = row.id
        elif step_up == "expired":
            await add_step_up(
                uow, staff, w.patient, now - timedelta(minutes=30), now - timedelta(minutes=15)
            )
        elif step_up == "other-patient":
            await add_step_up(
                uow, staff, w.other_patient, now - timedelta(minutes=5), now + timedelta(minutes=10)
            )
        return DoctorPrincipal(staff.id, w.doctor, w.org), row_id

    answer: Expected
    if not confirmed:
        answer = STAFF_UNCONFIRMED
    elif not attached:
        answer = NOT_ATTACHED
    elif step_up == "fresh":
        answer = Allow(Basis.DOCTOR_STEP_UP)
    elif step_up == "expired":
        answer = STEP_UP_EXPIRED
    else:
        answer = NO_STEP_UP
    name = (
        f"doctor-{'confirmed' if confirmed else 'unconfirmed'}-"
        f"{'attached' if attached else 'not-attached'}-step-up-{step_up}"
    )
    return Case(name, setup, as_doctor(answer))


def org_admin_case() -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w, role="org_admin")
        await attach(uow, w)
        await add_step_up(
            uow, staff, w.patient, w.now - timedelta(minutes=1), w.now + timedelta(minutes=10)
        )
        return DoctorPrincipal(staff.id, w.doctor, w.org), None

    return Case("org-admin-attached-step-up-fresh", setup, as_doctor(NOT_DOCTOR))


def doctor_of_another_org_case() -> Case:
    """A principal naming an organisation its staff row is not of."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w)
        await attach(uow, w)
        await add_step_up(
            uow, staff, w.patient, w.now - timedelta(minutes=1), w.now + timedelta(minutes=10)
        )
        return DoctorPrincipal(staff.id, w.doctor, w.other_org), None

    return Case("doctor-staff-row-of-another-org", setup, as_doctor(STAFF_UNKNOWN))


def doctor_attachment_ended_case() -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w)
        await attach(uow, w, until=w.now)
        await add_step_up(
            uow, staff, w.patient, w.now - timedelta(minutes=1), w.now + timedelta(minutes=10)
        )
        return DoctorPrincipal(staff.id, w.doctor, w.org), None

    return Case("doctor-attachment-ended", setup, as_doctor(NOT_ATTACHED))


def doctor_step_up_beyond_policy_case() -> Case:
    """A step-up row that claims longer than the policy's 15 minutes ends with the policy."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w)
        await attach(uow, w)
        await add_step_up(
            uow, staff, w.patient, w.now - timedelta(minutes=20), w.now + timedelta(hours=1)
        )
        return DoctorPrincipal(staff.id, w.doctor, w.org), None

    return Case("doctor-step-up-longer-than-policy", setup, as_doctor(STEP_UP_EXPIRED))


def doctor_question_case(confirmed: bool, to_this_doctor: bool) -> Case:
    """A patient who is not attached asked a doctor a question: the doctor reads and answers
    it without a step-up; the card opens with a step-up, as for an attached patient."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w, confirmed=confirmed)
        asked = staff
        if not to_this_doctor:
            other = await _account(uow, "+79990000015", "Другой", w.now)
            asked = await uow.clinic.staff.add(
                StaffMember(
                    account_id=other,
                    organisation_id=w.org,
                    role="doctor",
                    created_at=w.now - timedelta(days=100),
                    confirmed_at=w.now - timedelta(days=99),
                )
            )
        thread = await add_question(uow, w, asked)
        return DoctorPrincipal(staff.id, w.doctor, w.org), thread.id

    question: Expected
    if not confirmed:
        question = STAFF_UNCONFIRMED
    elif to_this_doctor:
        question = Allow(Basis.DOCTOR_QUESTION)
    else:
        question = NO_QUESTION
    # A question to this doctor counts as an attachment: the card needs the step-up only.
    answer: Expected
    if not confirmed:
        answer = STAFF_UNCONFIRMED
    else:
        answer = NO_STEP_UP if to_this_doctor else NOT_ATTACHED
    name = (
        f"doctor-{'confirmed' if confirmed else 'unconfirmed'}-not-attached-asked-"
        f"{'this' if to_this_doctor else 'another'}-doctor"
    )
    return Case(name, setup, as_doctor(answer, question))


def colleague_extract_case(to_this_doctor: bool) -> Case:
    """A colleague sent a doctor of another organisation an extract of the patient's record:
    that doctor opens the extract, never the card."""

    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        staff = await add_staff(uow, w, confirmed=True)
        sender = await uow.clinic.staff.add(
            StaffMember(
                account_id=await _account(uow, "+79990000016", "Отправитель", w.now),
                organisation_id=w.org,
                role="doctor",
                created_at=w.now - timedelta(days=100),
                confirmed_at=w.now - timedelta(days=99),
            )
        )
        recipient = staff if to_this_doctor else sender
        extract = await uow.record.colleagues.add(
            ColleagueExtract(
                patient_account_id=w.patient,
                sender_staff_id=sender.id,
                recipient_staff_id=recipient.id,
                content="extract",
                title="Выписка из медкарты",
                storage_key=f"test-{to_this_doctor}",
                sha256="0" * 64,
                size=1,
                file_name="vypiska.pdf",
                sent_at=w.now - timedelta(hours=1),
            )
        )
        return DoctorPrincipal(staff.id, w.doctor, w.org), extract.id

    sent: Expected = Allow(Basis.COLLEAGUE_EXTRACT) if to_this_doctor else NOT_SENT
    name = f"doctor-not-attached-sent-an-extract-{'to-this' if to_this_doctor else 'to-another'}"
    return Case(name, setup, as_doctor(NOT_ATTACHED, sent=sent))


def api_client_case(state: str) -> Case:
    async def setup(uow: UnitOfWork, w: World) -> tuple[Principal, int | None]:
        if state == "unknown":
            return ApiClientPrincipal(999), None
        client = await add_client(uow, w, revoked=state == "revoked")
        return ApiClientPrincipal(client.id), None

    answers: dict[str, Expected] = {
        "active": Allow(Basis.API_CLIENT),
        "revoked": CLIENT_REVOKED,
        "unknown": CLIENT_UNKNOWN,
    }
    return Case(f"api-client-{state}", setup, as_api_client(answers[state]))


CASES: list[Case] = [
    self_case(),
    stranger_case(),
    *(
        relative_case(level, state, sensitive)
        for level in ("view", "view_download", "full")
        for state in ("active", "expired", "revoked", "pending")
        for sensitive in (False, True)
    ),
    relative_account_case("full", True),
    relative_account_case("view", False),
    relative_other_telegram_case(),
    relative_grant_of_another_patient_case(),
    relative_regranted_case(),
    *(
        doctor_case(confirmed, attached, step_up)
        for confirmed in (True, False)
        for attached in (True, False)
        for step_up in STEP_UPS
    ),
    org_admin_case(),
    doctor_of_another_org_case(),
    doctor_attachment_ended_case(),
    doctor_step_up_beyond_policy_case(),
    doctor_question_case(True, True),
    doctor_question_case(True, False),
    doctor_question_case(False, True),
    colleague_extract_case(True),
    colleague_extract_case(False),
    api_client_case("active"),
    api_client_case("revoked"),
    api_client_case("unknown"),
]


def test_the_matrix_covers_every_permission_of_every_case() -> None:
    assert len({case.id for case in CASES}) == len(CASES) == 59
    assert all(set(case.expected) == set(Permission) for case in CASES)
    assert len(Permission) == 14


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_matrix(db_env: Env, world: World, case: Case) -> None:
    principal, row_id = await in_uow(db_env, lambda uow: case.setup(uow, world))
    mismatches: list[str] = []
    async with db_env.uow() as uow:
        for permission in Permission:
            decision = await authorize(uow, db_env.ctx, principal, world.patient, permission)
            assert decision.permission == permission
            assert decision.subject_account_id == world.patient
            expected = case.expected[permission]
            if isinstance(expected, Allow):
                got: tuple[Any, ...] = (decision.allowed, decision.basis, decision.grant_id)
                want: tuple[Any, ...] = (True, expected.basis, row_id)
                if expected.basis in (Basis.SELF, Basis.API_CLIENT):
                    want = (True, expected.basis, None)
                ok = got == want and decision.reason is None
            else:
                got = (decision.allowed, decision.basis, decision.reason)
                want = (False, None, expected)
                ok = got == want
            if not ok:
                mismatches.append(f"{permission}: got {got}, want {want}")
    assert mismatches == []


# -- time, revocation and the journal ---------------------------------------------------------


async def _decide(env: Env, principal: Principal, subject: int, permission: Permission) -> Decision:
    async with env.uow() as uow:
        return await authorize(uow, env.ctx, principal, subject, permission)


async def test_a_grant_revoked_between_two_calls_is_denied_on_the_second(
    db_env: Env, world: World
) -> None:
    grant = await in_uow(db_env, lambda uow: add_grant(uow, world, level="full"))
    first = await _decide(db_env, relative(), world.patient, P.READ_RECORD)
    assert first.allowed and first.basis == Basis.RELATIVE_GRANT and first.grant_id == grant.id

    async def revoke(uow: UnitOfWork) -> None:
        row = await uow.sharing.grants.get(grant.id)
        assert row is not None
        row.status, row.revoked_at = "revoked", db_env.clock.now()

    await in_uow(db_env, revoke)
    second = await _decide(db_env, relative(), world.patient, P.READ_RECORD)
    assert not second.allowed and second.reason == REVOKED and second.grant_id == grant.id


async def test_a_revocation_is_seen_even_by_a_unit_that_read_the_grant_before(
    db_env: Env, world: World
) -> None:
    """The grant is read afresh on every call, not taken from the session's identity map."""
    grant = await in_uow(db_env, lambda uow: add_grant(uow, world, level="full"))
    async with db_env.uow() as uow:
        assert (await authorize(uow, db_env.ctx, relative(), world.patient, P.READ_RECORD)).allowed
        await uow.session.execute(
            update(RelativeGrant)
            .where(RelativeGrant.id == grant.id)
            .values(status="revoked", revoked_at=db_env.clock.now())
            .execution_options(synchronize_session=False)
        )
        again = await authorize(uow, db_env.ctx, relative(), world.patient, P.READ_RECORD)
        assert again.reason == REVOKED


async def test_a_grant_ends_at_its_expiry_moment(db_env: Env, world: World) -> None:
    async def timed(uow: UnitOfWork) -> RelativeGrant:
        grant = await add_grant(uow, world, level="view")
        grant.expires_at = world.now + timedelta(hours=1)
        return grant

    await in_uow(db_env, timed)
    db_env.clock.advance(hours=1, seconds=-1)
    assert (await _decide(db_env, relative(), world.patient, P.READ_RECORD)).allowed
    db_env.clock.advance(seconds=1)  # expires_at <= now: over
    late = await _decide(db_env, relative(), world.patient, P.READ_RECORD)
    assert late.reason == "Срок доступа к карте истёк 26.11.2026 13:00 (МСК)."


async def test_open_step_up_lasts_the_policy_minutes(db_env: Env, world: World) -> None:
    db_env.ctx.policy = replace(SecurityPolicy(), doctor_step_up_minutes=15)

    async def prepare(uow: UnitOfWork) -> DoctorPrincipal:
        staff = await add_staff(uow, world)
        await attach(uow, world)
        return DoctorPrincipal(staff.id, world.doctor, world.org)

    doctor = await in_uow(db_env, prepare)
    assert (await _decide(db_env, doctor, world.patient, P.READ_RECORD)).reason == NO_STEP_UP

    async def step_up(uow: UnitOfWork) -> DoctorStepUp:
        return await open_step_up(uow, db_env.ctx, doctor, world.patient, "приём")

    row = await in_uow(db_env, step_up)
    assert row.expires_at - row.started_at == timedelta(minutes=15)
    opened = await _decide(db_env, doctor, world.patient, P.WRITE_RECORD)
    assert opened.allowed and opened.basis == Basis.DOCTOR_STEP_UP and opened.grant_id == row.id
    # Another patient's card stays closed.
    assert (await _decide(db_env, doctor, world.other_patient, P.READ_RECORD)).reason == (
        NOT_ATTACHED
    )
    db_env.clock.advance(minutes=15)
    assert (await _decide(db_env, doctor, world.patient, P.READ_RECORD)).reason == STEP_UP_EXPIRED


async def test_require_journals_a_refusal_and_raises_the_reason(db_env: Env, world: World) -> None:
    grant = await in_uow(db_env, lambda uow: add_grant(uow, world, state="revoked"))
    async with db_env.uow() as uow:
        with pytest.raises(AccessDenied) as caught:
            await require(
                uow, db_env.ctx, relative(), world.patient, P.DOWNLOAD, action="record.extract"
            )
        await uow.commit()  # a domain error's writes are committed (services.core.work)
    assert caught.value.message == REVOKED
    async with db_env.uow() as uow:
        (entry,) = await uow.core.audit.all("record.extract")
    assert (entry.actor, entry.actor_account_id, entry.subject_account_id) == (
        f"relative:{REL_TG}",
        None,
        world.patient,
    )
    assert (entry.outcome, entry.permission, entry.basis) == ("denied", "record.download", None)
    assert entry.details == {"grant_id": grant.id, "denied": "grant_revoked", "level": "view"}


async def test_require_writes_nothing_when_allowed(db_env: Env, world: World) -> None:
    grant = await in_uow(db_env, lambda uow: add_grant(uow, world, level="view_download"))

    async def run(uow: UnitOfWork) -> Decision:
        return await require(
            uow, db_env.ctx, relative(), world.patient, P.DOWNLOAD, action="record.extract"
        )

    decision = await in_uow(db_env, run)
    assert decision.audit_fields() == {
        "permission": "record.download",
        "basis": "relative_grant",
        "grant_id": grant.id,
        "level": "view_download",
    }
    async with db_env.uow() as uow:
        assert await uow.core.audit.all() == []


# -- the services -------------------------------------------------------------------------------


@pytest.fixture
async def people(db_env: Env, tmp_path: Path) -> tuple[CurrentUser, CurrentUser]:
    """Петров and Смирнова (demo people), signed in, with the file store on."""
    use_file_store(db_env, tmp_path / "files")
    await seed(db_env)
    return await sign_in(db_env, PETROV_PHONE), await sign_in(db_env, SMIRNOVA_PHONE)


async def _journal(env: Env) -> list[AuditEntry]:
    async with env.uow() as uow:
        return list(await uow.core.audit.all())


async def test_the_services_journal_permission_and_basis(
    db_env: Env, people: tuple[CurrentUser, CurrentUser]
) -> None:
    petrov, _ = people
    await draft(db_env, petrov)
    await fill_form(db_env, petrov)
    await upload_required(db_env, petrov)
    await upload(db_env, petrov, "residence", make_png("green"))

    async def remove(uow: UnitOfWork) -> object:
        return await DocumentService(uow, db_env.ctx).remove(petrov, "residence")

    await in_uow(db_env, remove)
    await call(db_env, "review", petrov)
    await submit(db_env, petrov)
    await call(db_env, "status", petrov)

    async def history(uow: UnitOfWork) -> object:
        return await AuthService(uow, db_env.ctx).login_history(petrov)

    await in_uow(db_env, history)

    mine = [e for e in await _journal(db_env) if e.actor == f"account:{petrov.account_id}"]
    actions = {e.action for e in mine}
    assert {
        "application.create",
        "application.field",
        "application.consent",
        "application.view",
        "application.submit",
        "application.status",
        "application.status.view",
        "document.upload",
        "document.remove",
        "login_history.view",
    } <= actions
    for entry in mine:
        assert entry.subject_account_id == petrov.account_id
        assert entry.outcome == "ok"
        want = (
            "account.history.read"
            if entry.action == "login_history.view"
            else ("application.manage")
        )
        assert (entry.action, entry.permission, entry.basis) == (entry.action, want, "self")


SERVICE_CALLS: list[tuple[str, str, Callable[[UnitOfWork, AppContext, CurrentUser], Any]]] = [
    ("draft", "application.draft", lambda u, c, p: ApplicationService(u, c).draft(p)),
    (
        "set_field",
        "application.field",
        lambda u, c, p: ApplicationService(u, c).set_field(p, "inn", "500100732259"),
    ),
    (
        "skip_field",
        "application.field",
        lambda u, c, p: ApplicationService(u, c).skip_field(p, "inn"),
    ),
    (
        "use_account_phone",
        "application.field",
        lambda u, c, p: ApplicationService(u, c).use_account_phone(p),
    ),
    (
        "accept_consent",
        "application.consent",
        lambda u, c, p: ApplicationService(u, c).accept_consent(p),
    ),
    (
        "account_phone",
        "application.account_phone",
        lambda u, c, p: ApplicationService(u, c).account_phone(p),
    ),
    ("review", "application.view", lambda u, c, p: ApplicationService(u, c).review(p)),
    (
        "prepare_submit",
        "application.prepare_submit",
        lambda u, c, p: ApplicationService(u, c).prepare_submit(p),
    ),
    (
        "submit",
        "application.submit",
        lambda u, c, p: ApplicationService(u, c).submit(p, "application:1:1"),
    ),
    ("status", "application.status.view", lambda u, c, p: ApplicationService(u, c).status(p)),
    ("slots", "document.list", lambda u, c, p: DocumentService(u, c).slots(p)),
    (
        "upload",
        "document.upload",
        lambda u, c, p: DocumentService(u, c).upload(p, "policy", make_png("red")),
    ),
    ("remove", "document.remove", lambda u, c, p: DocumentService(u, c).remove(p, "passport")),
    ("login_history", "login_history.view", lambda u, c, p: AuthService(u, c).login_history(p)),
]


@pytest.mark.parametrize(
    ("action", "use_case"),
    [(a, f) for _, a, f in SERVICE_CALLS],
    ids=[n for n, _, _ in SERVICE_CALLS],
)
async def test_another_account_cannot_reach_ones_application_through_the_services(
    db_env: Env,
    people: tuple[CurrentUser, CurrentUser],
    action: str,
    use_case: Callable[[UnitOfWork, AppContext, CurrentUser], Any],
) -> None:
    """Смирнова opens Петров's card — even with his full grant — and is refused.

    The application and its documents, and the sign-in history, are the owner's own.
    """
    petrov, smirnova = people
    await draft(db_env, petrov)
    await call(db_env, "set_field", petrov, "full_name", "Петров Сергей Иванович")
    await upload(db_env, petrov, "passport", make_png("navy"))
    grant = await in_uow(
        db_env,
        lambda uow: uow.sharing.grants.add(
            RelativeGrant(
                patient_account_id=petrov.account_id,
                relative_phone=SMIRNOVA_PHONE,
                relative_account_id=smirnova.account_id,
                relationship="spouse",
                level="full",
                include_sensitive=True,
                status="active",
                created_at=db_env.clock.now(),
                accepted_at=db_env.clock.now(),
            )
        ),
    )
    intruder = replace(smirnova, acting_for=petrov.account_id)
    # The grant does open his record to her…
    opened = await _decide(db_env, intruder, petrov.account_id, P.READ_RECORD)
    assert opened.allowed and opened.grant_id == grant.id

    async def state(uow: UnitOfWork) -> tuple[int, int, list[tuple[int, int]]]:
        apps = (await uow.session.execute(select(Application.id, Application.revision))).all()
        docs = await uow.session.scalar(select(func.count()).select_from(ApplicationDocument))
        audit_rows = await uow.session.scalar(select(func.count()).select_from(AuditEntry))
        return int(docs or 0), int(audit_rows or 0), [(a, r) for a, r in apps]

    docs_before, rows_before, apps_before = await in_uow(db_env, state)

    # …but not his application, its documents or his sign-ins.
    returned: list[object] = []
    async with db_env.uow() as uow:
        with pytest.raises(AccessDenied) as caught:
            returned.append(await use_case(uow, db_env.ctx, intruder))
        await uow.commit()
    assert returned == []
    want = OWNER_HISTORY if action == "login_history.view" else OWNER_APPLY
    assert caught.value.message == want

    docs_after, rows_after, apps_after = await in_uow(db_env, state)
    assert (docs_after, apps_after) == (docs_before, apps_before)  # nothing made or changed
    assert rows_after == rows_before + 1
    entry = (await _journal(db_env))[-1]
    assert (entry.action, entry.outcome) == (action, "denied")
    assert (entry.actor, entry.actor_account_id, entry.subject_account_id) == (
        f"account:{smirnova.account_id}",
        smirnova.account_id,
        petrov.account_id,
    )
    permission = "account.history.read" if action == "login_history.view" else "application.manage"
    assert (entry.permission, entry.basis) == (permission, None)
    assert entry.details == {"denied": "owner_only"}
