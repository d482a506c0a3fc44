"""«Кабинет врача»: the doctor's patients, and a patient's card opened with a step-up.

The doctor is a signed-in portal account with a confirmed staff row of the role
«doctor» (``staff_id``, checked against the account on every call). «Пациенты»
lists the patients of the doctor's organisation — attached to it, or with a visit
booked with this doctor — whose record is open, searched by surname, СНИЛС or
policy number, a page at a time in the database.

Opening a card asks for a fresh code from the doctor's authenticator app and the
purpose (приём, консультация, заключение, другое): ``open_card`` checks the code
(services.identity's ``verify_authenticator``), records the step-up
(``access.open_step_up``, for ``DOCTOR_STEP_UP_MINUTES``, this card only) and
journals the opening, all in one unit of work. Within the step-up the card opens
again without a code (``reopen``). Every event on the card asks the access rule
again (``card_access``, through dialogs.core.card), so the card closes on the
first click after the step-up ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.core import audit
from services.core.access import (
    MSG_NOT_ATTACHED,
    AccountPrincipal,
    DoctorPrincipal,
    Permission,
    actor_of,
    journal,
    open_step_up,
    own_doctor_row,
    require,
)
from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError, ValidationError
from services.core.journal import short_name
from services.core.validators import normalize_snils
from services.identity.otp import verify_authenticator
from storage.models import DoctorStepUp, MedicalRecord, StaffMember
from storage.uow import UnitOfWork

MSK = ZoneInfo("Europe/Moscow")
PAGE_SIZE = 8
PURPOSES = ("приём", "консультация", "заключение", "другое")

MSG_PURPOSE = "Выберите цель доступа к карте: приём, консультация, заключение или другое."
MSG_QUERY = (
    "Напишите фамилию пациента, СНИЛС (11 цифр) или номер полиса ОМС (16 цифр). "
    "Например: Иванова или 112-233-445 95."
)
MSG_NOT_STAFF = "Кабинет врача доступен только сотрудникам медицинских организаций."


@dataclass(frozen=True)
class StaffView:
    """One staff row of the signed-in person, as the cabinet shows it."""

    staff_id: int
    organisation: str
    role: str
    specialty: str | None
    confirmed: bool

    @property
    def is_doctor(self) -> bool:
        return self.role == "doctor"


@dataclass(frozen=True)
class PatientLine:
    account_id: int
    label: str


@dataclass(frozen=True)
class PatientsPage:
    organisation: str
    items: list[PatientLine]
    number: int
    pages: int
    total: int
    query: str | None

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass(frozen=True)
class DoctorCard:
    """A card a doctor has open now: for the card's screens (dialogs.core.card)."""

    principal: DoctorPrincipal
    patient_account_id: int
    patient: str
    purpose: str
    until: datetime
    # A doctor may download the card's files; booking is the patient's own.
    can_download: bool = True
    can_book: bool = False

    @property
    def line(self) -> str:
        return (
            f"Пациент: {self.patient} · {self.purpose} · "
            f"доступ до {self.until.astimezone(MSK):%H:%M}"
        )


@dataclass(frozen=True)
class Query:
    surnames: tuple[str, ...] = ()
    snils: str | None = None
    policy: str | None = None
    kind: str = "all"


def parse_query(raw: str | None) -> Query:
    """A surname (any case), a СНИЛС (checked) or a 16-digit policy number."""
    text = " ".join((raw or "").split())
    if not text:
        return Query()
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and all(ch.isdigit() or ch in " -" for ch in text):
        if len(digits) == 11:
            return Query(snils=normalize_snils(digits), kind="snils")
        if len(digits) == 16:
            return Query(policy=digits, kind="policy")
        raise ValidationError(MSG_QUERY)
    if len(text) > 100 or not all(ch.isalpha() or ch in " -" for ch in text):
        raise ValidationError(MSG_QUERY)
    word = text.replace("ё", "е").replace("Ё", "Е")
    forms = {text, word}
    for form in list(forms):
        forms.add(form.capitalize())
        forms.add("-".join(part.capitalize() for part in form.split("-")))
        forms.add(form.upper())
    return Query(surnames=tuple(sorted(forms)), kind="surname")


def _label(record: MedicalRecord) -> str:
    name = " ".join(p for p in (record.last_name, record.first_name, record.middle_name) if p)
    return f"{name}, {record.birth_date:%d.%m.%Y}"


def _patient_name(record: MedicalRecord) -> str:
    return short_name(
        " ".join(p for p in (record.last_name, record.first_name, record.middle_name) if p)
    )


class ClinicService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    # -- who the doctor is -----------------------------------------------------------

    async def cabinet(self, user: AccountPrincipal) -> list[StaffView]:
        """The signed-in person's staff rows (their own data: no one else's is read)."""
        rows = await self.uow.clinic.staff.of_account(user.account_id)
        views = []
        for row in rows:
            organisation = await self.uow.clinic.organisations.get(row.organisation_id)
            views.append(
                StaffView(
                    staff_id=row.id,
                    organisation=organisation.name if organisation else "",
                    role=row.role,
                    specialty=row.specialty,
                    confirmed=row.confirmed_at is not None and row.confirmed_at <= self.now,
                )
            )
        return views

    async def is_staff(self, user: AccountPrincipal) -> bool:
        return bool(await self.uow.clinic.staff.of_account(user.account_id))

    async def _doctor(
        self, user: AccountPrincipal, staff_id: int, action: str
    ) -> tuple[StaffMember, DoctorPrincipal]:
        """The confirmed doctor row of this account, or a refusal (journaled)."""
        staff = await own_doctor_row(self.uow, self.ctx, user.account_id, staff_id, action)
        return staff, DoctorPrincipal(staff.id, staff.account_id, staff.organisation_id)

    async def _organisation_name(self, organisation_id: int) -> str:
        organisation = await self.uow.clinic.organisations.get(organisation_id)
        return organisation.name if organisation else ""

    # -- «Пациенты» --------------------------------------------------------------------

    async def patients(
        self, user: AccountPrincipal, staff_id: int, raw_query: str | None = None, number: int = 1
    ) -> PatientsPage:
        """A page of the doctor's patients, by surname, СНИЛС or policy number (journaled)."""
        staff, doctor = await self._doctor(user, staff_id, "doctor.patients.list")
        query = parse_query(raw_query)
        repo = self.uow.clinic.patients
        total = await repo.count(
            staff.id,
            staff.organisation_id,
            self.now,
            surnames=query.surnames,
            snils=query.snils,
            policy=query.policy,
        )
        pages = max(1, math.ceil(total / PAGE_SIZE))
        number = min(max(1, number), pages)
        rows = await repo.page(
            staff.id,
            staff.organisation_id,
            self.now,
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            surnames=query.surnames,
            snils=query.snils,
            policy=query.policy,
        )
        # The query itself may be personal data (a СНИЛС): the journal keeps its kind only.
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(doctor),
            action="doctor.patients.list",
            actor_account_id=user.account_id,
            organisation_id=staff.organisation_id,
            search=query.kind,
            page=number,
            found=total,
        )
        return PatientsPage(
            organisation=await self._organisation_name(staff.organisation_id),
            items=[PatientLine(r.account_id, _label(r)) for r in rows],
            number=number,
            pages=pages,
            total=total,
            query=raw_query if query.kind != "all" else None,
        )

    async def _patient(
        self, doctor: DoctorPrincipal, staff: StaffMember, patient_account_id: int, action: str
    ) -> MedicalRecord:
        """The patient's record when the doctor works with them; else refused and journaled."""
        record = await self.uow.clinic.patients.one(
            staff.id, staff.organisation_id, self.now, patient_account_id
        )
        if record is None:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor_of(doctor),
                action=action,
                outcome="denied",
                actor_account_id=doctor.account_id,
                subject_account_id=patient_account_id,
                permission=Permission.READ_RECORD.value,
                denied="not_attached",
            )
            raise AccessDenied(MSG_NOT_ATTACHED)
        return record

    async def patient_name(
        self, user: AccountPrincipal, staff_id: int, patient_account_id: int
    ) -> str:
        """«Иванова А. С.» for the step-up screen; the patient must be the doctor's."""
        staff, doctor = await self._doctor(user, staff_id, "doctor.card.open")
        record = await self._patient(doctor, staff, patient_account_id, "doctor.card.open")
        return _patient_name(record)

    # -- the card ------------------------------------------------------------------------

    def _ends(self, step_up: DoctorStepUp) -> datetime:
        longest = step_up.started_at + timedelta(minutes=self.ctx.policy.doctor_step_up_minutes)
        return min(step_up.expires_at, longest)

    async def _card(
        self, doctor: DoctorPrincipal, record: MedicalRecord, step_up: DoctorStepUp
    ) -> DoctorCard:
        return DoctorCard(
            principal=doctor,
            patient_account_id=record.account_id,
            patient=_patient_name(record),
            purpose=step_up.purpose,
            until=self._ends(step_up),
        )

    async def open_card(
        self,
        user: AccountPrincipal,
        staff_id: int,
        patient_account_id: int,
        purpose: str,
        raw_code: str,
    ) -> DoctorCard:
        """A fresh authenticator code and the purpose open this card for the step-up's time.

        A wrong code raises CodeError (counted toward the account's limit); the card
        stays closed.
        """
        staff, doctor = await self._doctor(user, staff_id, "doctor.card.open")
        record = await self._patient(doctor, staff, patient_account_id, "doctor.card.open")
        if purpose not in PURPOSES:
            raise DomainError(MSG_PURPOSE)
        await verify_authenticator(
            self.uow, self.ctx, user.account_id, raw_code, actor=actor_of(doctor)
        )
        step_up = await open_step_up(self.uow, self.ctx, doctor, patient_account_id, purpose)
        return await self._opened(doctor, record, step_up)

    async def reopen(
        self, user: AccountPrincipal, staff_id: int, patient_account_id: int
    ) -> DoctorCard | None:
        """The card again within its step-up (journaled as an opening); None: a code is needed."""
        staff, doctor = await self._doctor(user, staff_id, "doctor.card.open")
        record = await self._patient(doctor, staff, patient_account_id, "doctor.card.open")
        step_up = await self.uow.clinic.step_ups.latest(staff.id, patient_account_id)
        if step_up is None or step_up.started_at > self.now or self._ends(step_up) <= self.now:
            return None
        return await self._opened(doctor, record, step_up)

    async def _opened(
        self, doctor: DoctorPrincipal, record: MedicalRecord, step_up: DoctorStepUp
    ) -> DoctorCard:
        """The card opened under `step_up`: asked of the access rule, and journaled."""
        patient_account_id = step_up.patient_account_id
        on_card = DoctorPrincipal(
            doctor.staff_id, doctor.account_id, doctor.organisation_id, patient_account_id
        )
        decision = await require(
            self.uow,
            self.ctx,
            on_card,
            patient_account_id,
            Permission.READ_RECORD,
            action="doctor.card.open",
        )
        await journal(
            self.uow,
            self.ctx,
            on_card,
            patient_account_id,
            decision,
            "doctor.card.open",
            purpose=step_up.purpose,
        )
        return await self._card(on_card, record, step_up)

    async def card_access(
        self, user: AccountPrincipal, staff_id: int, patient_account_id: int
    ) -> DoctorCard:
        """The card asked for now, through the access rule (AccessDenied once the step-up ends)."""
        staff, doctor = await self._doctor(user, staff_id, "doctor.card")
        on_card = DoctorPrincipal(
            doctor.staff_id, doctor.account_id, doctor.organisation_id, patient_account_id
        )
        await require(
            self.uow,
            self.ctx,
            on_card,
            patient_account_id,
            Permission.READ_RECORD,
            action="doctor.card",
        )
        record = await self.uow.record.records.for_account(patient_account_id)
        step_up = await self.uow.clinic.step_ups.latest(staff.id, patient_account_id)
        if record is None or step_up is None:
            raise AccessDenied(MSG_NOT_ATTACHED)
        return await self._card(on_card, record, step_up)
