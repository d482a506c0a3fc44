"""Demo staff of «Городская поликлиника № 1»: терапевт Соколова and кардиолог Белов.

Called by ``services.demo.seed_demo`` after the booking demo (the polyclinic and its
booking doctors); running it twice changes nothing. Both sign in with the demo
password and their authenticator app, already enrolled: the secret is derived
from the phone (``demo_totp_secret``), so README and the console demo can print
it. Their employment is confirmed and each is linked to their booking doctor row.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from services.clinic.staff import NewStaff, StaffAdmin
from services.core.context import AppContext
from services.identity.otp import seal_totp_secret
from storage.uow import UnitOfWork

ORGANISATION_OGRN = "1027700000019"  # services.booking.demo's polyclinic
DEMO_STAFF_PASSWORD = "Demo-Passw0rd"
OPERATOR = "seed-demo"


@dataclass(frozen=True)
class DemoStaff:
    phone: str
    last_name: str
    first_name: str
    middle_name: str
    specialty: str


DEMO_STAFF = (
    DemoStaff("+79990000101", "Соколова", "Мария", "Андреевна", "therapist"),
    DemoStaff("+79990000102", "Белов", "Андрей", "Николаевич", "cardiologist"),
)


def demo_totp_secret(phone: str) -> str:
    """The demo staff member's authenticator secret (base32, 160 bits), the same every time."""
    digest = hashlib.sha256(f"emk-demo-staff:{phone}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


async def seed_staff(uow: UnitOfWork, ctx: AppContext) -> list[int]:
    """Create the demo staff that are missing; returns the new staff ids."""
    organisation = await uow.clinic.organisations.by_ogrn(ORGANISATION_OGRN)
    if organisation is None:
        return []
    admin = StaffAdmin(uow, ctx, OPERATOR)
    now = ctx.gateways.clock.now()
    created = []
    for person in DEMO_STAFF:
        if await uow.identity.accounts.find_by_login("phone", person.phone) is not None:
            continue
        staff = await admin.create_staff(
            NewStaff(
                organisation=str(organisation.id),
                role="doctor",
                phone=person.phone,
                last_name=person.last_name,
                first_name=person.first_name,
                middle_name=person.middle_name,
                specialty=person.specialty,
            )
        )
        account = await uow.identity.accounts.get(staff.account_id)
        assert account is not None
        account.password_hash = await ctx.cpu.run(ctx.hasher.hash, DEMO_STAFF_PASSWORD)
        account.password_changed_at = now
        account.totp_secret = seal_totp_secret(ctx, account.id, demo_totp_secret(person.phone))
        await admin.confirm_staff(staff.staff_id)
        row = await uow.clinic.staff.get(staff.staff_id)
        assert row is not None
        row.totp_enrolled_at = now
        created.append(staff.staff_id)
    return created
