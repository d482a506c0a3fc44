"""Staff accounts: `admin create-staff` (the ОГРН checked), pending until confirmed,
linked to the booking doctor of that name, audited; a staff session never opens
without the authenticator app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from services.clinic.staff import NewStaff, StaffAdmin, check_ogrn
from services.core.access import DoctorPrincipal, Permission, authorize
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.identity.auth import AuthService
from storage.models import Account, AuditEntry, Doctor, StaffMember
from tests.support.services import Env, make_account

OGRN = "1027700132195"


def doctor(**changes: str) -> NewStaff:
    data = {
        "organisation": OGRN,
        "role": "doctor",
        "phone": "+79990000111",
        "last_name": "Орлов",
        "first_name": "Игорь",
        "middle_name": "Петрович",
        "specialty": "therapist",
        "organisation_name": "Городская поликлиника № 2",
    }
    data.update(changes)
    return NewStaff(**data)


async def rows(env: Env, model: type) -> list[object]:
    async with env.uow() as uow:
        return list((await uow.session.execute(select(model))).scalars())


@pytest.mark.parametrize(
    ("ogrn", "why"),
    [
        ("1027700132194", "не сходится контрольная цифра"),
        ("102770013219", "в ОГРН 13 цифр"),
        ("10277001321А5", "ОГРН состоит только из цифр"),
    ],
)
async def test_create_staff_with_a_bad_ogrn_is_refused(env: Env, ogrn: str, why: str) -> None:
    async with env.uow() as uow:
        with pytest.raises(ValidationError) as refused:
            await StaffAdmin(uow, env.ctx, "olga").create_staff(doctor(organisation=ogrn))
        await uow.commit()
    assert why in refused.value.message
    assert "ЕГРЮЛ" in refused.value.message
    assert await rows(env, StaffMember) == []
    assert await rows(env, Account) == []


async def test_unknown_ogrn_needs_the_organisations_name(env: Env) -> None:
    async with env.uow() as uow:
        with pytest.raises(NotFoundError) as refused:
            await StaffAdmin(uow, env.ctx, "olga").create_staff(doctor(organisation_name=""))
    assert "--org-name" in refused.value.message
    assert check_ogrn(" 1027700132195 ") == OGRN


async def test_doctor_pending_until_confirmed_linked_and_audited(env: Env) -> None:
    patient = await make_account(env)
    async with env.uow() as uow:
        admin = StaffAdmin(uow, env.ctx, "olga")
        first = await admin.create_staff(
            doctor(role="org-admin", phone="+79990000112", last_name="Ким", first_name="Елена")
        )
        organisation = await uow.clinic.organisations.by_ogrn(OGRN)
        assert organisation is not None
        uow.session.add(
            Doctor(
                organisation_id=organisation.id,
                specialty_code="therapist",
                last_name="Орлов",
                first_name="Игорь",
                middle_name="Петрович",
                cabinet="107",
                active=True,
            )
        )
        await uow.flush()
        created = await admin.create_staff(doctor())
        with pytest.raises(DomainError):
            await admin.create_staff(doctor())
        await uow.commit()
    assert first.confirmed and first.role == "org_admin"
    assert not created.confirmed and created.role == "doctor"
    assert created.temporary_password is not None
    assert created.booking_doctor_id is not None

    principal = DoctorPrincipal(created.staff_id, created.account_id, created.organisation_id)
    async with env.uow() as uow:
        decision = await authorize(uow, env.ctx, principal, patient.id, Permission.READ_RECORD)
        assert not decision.allowed and decision.code == "staff_unconfirmed"
        booking = await uow.session.get(Doctor, created.booking_doctor_id)
        assert booking is not None and booking.staff_member_id == created.staff_id
        staff = await StaffAdmin(uow, env.ctx, "olga").confirm_staff(created.staff_id)
        assert staff.confirmed_by == "admin:olga"
        with pytest.raises(DomainError):
            await StaffAdmin(uow, env.ctx, "olga").confirm_staff(created.staff_id)
        await uow.commit()
    async with env.uow() as uow:
        decision = await authorize(uow, env.ctx, principal, patient.id, Permission.READ_RECORD)
        # Confirmed now; the patient is not attached to this organisation.
        assert decision.code == "not_attached"
    journal = [
        (r.action, r.actor, r.subject_account_id)
        for r in await rows(env, AuditEntry)
        if r.action.startswith(("staff.", "organisation."))  # type: ignore[attr-defined]
    ]
    assert journal == [
        ("organisation.create", "admin:olga", None),
        ("staff.create", "admin:olga", first.account_id),
        ("staff.create", "admin:olga", created.account_id),
        ("staff.confirm", "admin:olga", created.account_id),
    ]


async def test_no_staff_session_without_the_authenticator(env: Env) -> None:
    async with env.uow() as uow:
        created = await StaffAdmin(uow, env.ctx, "olga").create_staff(doctor())
        await uow.commit()
    async with env.uow() as uow:
        # A dialog that skipped the enrolment still gets no session.
        with pytest.raises(DomainError) as refused:
            await AuthService(uow, env.ctx).complete_sign_in(created.account_id, 5001, 5001)
    assert "только с кодом из приложения" in refused.value.message


def test_create_staff_command(tmp_path: Path) -> None:
    cli_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE", "REDIS"))
    }
    cli_env["DATA_DIR"] = str(tmp_path / "data")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert cli("migrate").returncode == 0
    common = ["--role", "doctor", "--specialty", "офтальмолог", "--phone", "+79990000104"]
    names = ["--last-name", "Ким", "--first-name", "Елена", "--middle-name", "Викторовна"]
    org = ["--org-name", "Городская поликлиника № 2"]
    bad = cli("admin", "create-staff", "--org", "1027700132194", *org, *common, *names)
    assert bad.returncode == 1
    assert "контрольная цифра" in bad.stderr and "Traceback" not in bad.stderr
    made = cli("admin", "create-staff", "--org", OGRN, *org, *common, *names)
    assert made.returncode == 0, made.stderr
    assert "pending confirmation" in made.stdout
    assert "temporary password" in made.stdout
    staff_id = made.stdout.split()[1]
    confirmed = cli("admin", "confirm-staff", staff_id, "--operator", "olga")
    assert confirmed.returncode == 0 and f"staff {staff_id} confirmed" in confirmed.stdout
