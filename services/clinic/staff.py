"""Staff accounts: `admin create-staff` and the confirmation of a doctor's employment.

A staff member is a portal account working in a medical organisation as a doctor
or as the organisation's administrator (``org_admin``). The organisation is named
by its ОГРН (checked with python-stdnum, ``stdnum.ru.ogrn``) or by its id; a new
one is registered when its name is given. The account is the person's own when
one has that phone (the names must agree), else it is created with a temporary
password shown to the operator once — a staff password never set by its owner
must be changed at the first sign-in (services.identity.staff).

A doctor's employment is pending until the organisation's administrator (in the
bot) or support (`admin confirm-staff`) confirms it; the access rule opens no
card before that. A doctor is linked to the organisation's booking doctor of the
same name, so that visits booked with them count. Everything is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import ogrn as ogrn_number

from services.core import audit, notify
from services.core.access import AccountPrincipal
from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError, NotFoundError, ValidationError
from services.core.validators import normalize_phone
from services.identity.admin import AdminService, NewAccount, temporary_password
from storage.models import Organisation, StaffMember
from storage.uow import UnitOfWork

ROLES = {"doctor": "doctor", "org-admin": "org_admin", "org_admin": "org_admin"}
ROLE_NAMES = {"doctor": "врач", "org_admin": "администратор организации"}

MSG_OGRN = "ОГРН указан с ошибкой: {why}. Проверьте его по выписке из ЕГРЮЛ."
OGRN_WHY = {
    "InvalidLength": "в ОГРН 13 цифр",
    "InvalidFormat": "ОГРН состоит только из цифр",
    "InvalidChecksum": "не сходится контрольная цифра",
    "InvalidComponent": "неверный признак или код региона",
}


@dataclass(frozen=True)
class NewStaff:
    organisation: str
    role: str
    phone: str
    last_name: str
    first_name: str
    middle_name: str | None = None
    specialty: str | None = None
    # A new organisation's official data, when `organisation` is an ОГРН not known yet.
    organisation_name: str | None = None
    organisation_address: str | None = None


@dataclass(frozen=True)
class CreatedStaff:
    staff_id: int
    account_id: int
    organisation_id: int
    organisation: str
    role: str
    confirmed: bool
    # Shown to the operator once, when the account was created here.
    temporary_password: str | None
    booking_doctor_id: int | None


@dataclass(frozen=True)
class PendingStaff:
    staff_id: int
    name: str
    role: str
    specialty: str | None
    created_at: datetime


def check_ogrn(raw: str) -> str:
    """The ОГРН's 13 digits, or ValidationError with the reason in Russian."""
    value = "".join(ch for ch in raw if not ch.isspace())
    try:
        return str(ogrn_number.validate(value))
    except StdnumError as exc:
        why = OGRN_WHY.get(type(exc).__name__, "неверный номер")
        raise ValidationError(MSG_OGRN.format(why=why)) from None


def full_name(last_name: str, first_name: str, middle_name: str | None) -> str:
    return " ".join(p for p in (last_name, first_name, middle_name) if p)


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class StaffAdmin:
    """The staff use cases of support's commands and of an organisation's administrator."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext, operator: str) -> None:
        self.uow = uow
        self.ctx = ctx
        self.actor = operator if ":" in operator else f"admin:{operator}"

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def _organisation(self, data: NewStaff) -> Organisation:
        raw = data.organisation.strip()
        if raw.isdigit() and len(raw) <= 9:  # an id; an ОГРН has 13 digits
            found = await self.uow.clinic.organisations.get(int(raw))
            if found is None:
                raise NotFoundError(f"Организация № {raw} не найдена.")
            return found
        ogrn = check_ogrn(raw)
        found = await self.uow.clinic.organisations.by_ogrn(ogrn)
        if found is not None:
            return found
        name = _clean(data.organisation_name)
        if name is None:
            raise NotFoundError(
                f"Организация с ОГРН {ogrn} не найдена. Чтобы зарегистрировать её, укажите "
                "её полное наименование (--org-name)."
            )
        organisation = await self.uow.clinic.organisations.add(
            Organisation(
                name=name,
                ogrn=ogrn,
                address=_clean(data.organisation_address),
                created_at=self.now,
            )
        )
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="organisation.create",
            organisation_id=organisation.id,
        )
        return organisation

    async def _specialty(self, raw: str | None) -> str | None:
        value = _clean(raw)
        if value is None:
            return None
        known = await self.uow.booking.catalog.specialty(value)
        return known.name if known is not None else value.lower()

    async def create_staff(self, data: NewStaff) -> CreatedStaff:
        role = ROLES.get(data.role.strip().lower())
        if role is None:
            raise ValidationError("Роль сотрудника: doctor (врач) или org-admin (администратор).")
        last_name, first_name = data.last_name.strip(), data.first_name.strip()
        middle_name = _clean(data.middle_name)
        if not last_name or not first_name:
            raise ValidationError("Укажите фамилию и имя сотрудника.")
        specialty = await self._specialty(data.specialty)
        if role == "doctor" and specialty is None:
            raise ValidationError("Укажите специальность врача (--specialty), например «терапевт».")
        organisation = await self._organisation(data)
        phone = normalize_phone(data.phone)
        account = await self.uow.identity.accounts.find_by_login("phone", phone)
        temporary: str | None = None
        if account is None:
            temporary = temporary_password()
            account = await AdminService(self.uow, self.ctx, self.actor).create_account(
                NewAccount(
                    phone=phone,
                    password=temporary,
                    last_name=last_name,
                    first_name=first_name,
                    middle_name=middle_name,
                )
            )
        elif (account.last_name, account.first_name) != (last_name, first_name):
            raise DomainError(
                "Учётная запись с этим телефоном принадлежит человеку с другим именем."
            )
        if await self.uow.clinic.staff.find(account.id, organisation.id, role) is not None:
            raise DomainError("Этот сотрудник уже есть в организации с этой ролью.")
        others = await self.uow.clinic.staff.of_account(account.id)
        enrolled = next((r.totp_enrolled_at for r in others if r.totp_enrolled_at), None)
        # An administrator added by support is confirmed by support; a doctor waits for
        # the organisation's administrator (or `admin confirm-staff`).
        confirmed = role == "org_admin"
        staff = await self.uow.clinic.staff.add(
            StaffMember(
                account_id=account.id,
                organisation_id=organisation.id,
                role=role,
                specialty=specialty,
                created_at=self.now,
                confirmed_at=self.now if confirmed else None,
                confirmed_by=self.actor if confirmed else None,
                totp_enrolled_at=enrolled,
            )
        )
        doctor_id: int | None = None
        if role == "doctor":
            doctor = await self.uow.clinic.staff.booking_doctor(
                organisation.id, last_name, first_name, middle_name
            )
            if doctor is not None:
                doctor.staff_member_id = staff.id
                doctor_id = doctor.id
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="staff.create",
            subject_account_id=account.id,
            staff_id=staff.id,
            organisation_id=organisation.id,
            role=role,
            booking_doctor_id=doctor_id,
            new_account=temporary is not None,
        )
        return CreatedStaff(
            staff_id=staff.id,
            account_id=account.id,
            organisation_id=organisation.id,
            organisation=organisation.name,
            role=role,
            confirmed=confirmed,
            temporary_password=temporary,
            booking_doctor_id=doctor_id,
        )

    async def confirm_staff(self, staff_id: int) -> StaffMember:
        """Support's confirmation (`admin confirm-staff`)."""
        staff = await self.uow.clinic.staff.get(staff_id)
        if staff is None:
            raise NotFoundError(f"Сотрудник № {staff_id} не найден.")
        return await self._confirm(staff)

    async def _confirm(self, staff: StaffMember) -> StaffMember:
        if staff.confirmed_at is not None:
            raise DomainError("Работа этого сотрудника уже подтверждена.")
        staff.confirmed_at = self.now
        staff.confirmed_by = self.actor
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="staff.confirm",
            subject_account_id=staff.account_id,
            staff_id=staff.id,
            organisation_id=staff.organisation_id,
        )
        organisation = await self.uow.clinic.organisations.get(staff.organisation_id)
        where = f" в «{organisation.name}»" if organisation else ""
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=staff.account_id,
            kind="staff_confirmed",
            text=(
                f"Ваша работа{where} подтверждена. Кабинет врача открыт: откройте главное меню "
                "и нажмите «Кабинет врача»."
                if staff.role == "doctor"
                else f"Ваша работа{where} подтверждена."
            ),
        )
        return staff


class OrgAdminService:
    """An organisation's administrator in the bot: the doctors waiting for confirmation."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    async def _admin(self, user: AccountPrincipal, admin_staff_id: int) -> StaffMember:
        row = await self.uow.clinic.staff.get(admin_staff_id)
        if (
            row is None
            or row.account_id != user.account_id
            or row.role != "org_admin"
            or row.confirmed_at is None
        ):
            raise AccessDenied(
                "Подтверждать сотрудников может только администратор медицинской организации."
            )
        return row

    async def pending(self, user: AccountPrincipal, admin_staff_id: int) -> list[PendingStaff]:
        admin = await self._admin(user, admin_staff_id)
        rows = await self.uow.clinic.staff.pending(admin.organisation_id)
        names = await self.uow.clinic.staff.names([r.id for r in rows])
        await audit.record(
            self.uow,
            self.ctx,
            actor=f"staff:{admin.id}",
            action="staff.pending.view",
            actor_account_id=user.account_id,
            organisation_id=admin.organisation_id,
        )
        return [
            PendingStaff(r.id, names.get(r.id, ""), r.role, r.specialty, r.created_at) for r in rows
        ]

    async def confirm(self, user: AccountPrincipal, admin_staff_id: int, staff_id: int) -> str:
        admin = await self._admin(user, admin_staff_id)
        staff = await self.uow.clinic.staff.get(staff_id)
        if staff is None or staff.organisation_id != admin.organisation_id:
            raise NotFoundError("Сотрудник не найден в вашей организации.")
        confirmed = await StaffAdmin(self.uow, self.ctx, f"staff:{admin.id}")._confirm(staff)
        names = await self.uow.clinic.staff.names([confirmed.id])
        return f"Работа сотрудника {names.get(confirmed.id, '')} подтверждена."
