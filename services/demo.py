"""Demo data for the offline set-up (`seed-demo`); running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from services.admin import AdminService, NewAccount
from services.context import AppContext
from storage.uow import UnitOfWork

DEMO_PASSWORD = "Demo-Passw0rd"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class DemoPerson:
    account: NewAccount
    second_factor: str


DEMO_PEOPLE = (
    DemoPerson(
        NewAccount(
            phone="+79990000001",
            password=DEMO_PASSWORD,
            last_name="Иванова",
            first_name="Анна",
            middle_name="Сергеевна",
            email="anna.ivanova@example.ru",
            snils="11223344595",
            totp_secret=DEMO_TOTP_SECRET,
        ),
        "SMS и приложение для кодов",
    ),
    DemoPerson(
        NewAccount(
            phone="+79990000002",
            password=DEMO_PASSWORD,
            last_name="Петров",
            first_name="Сергей",
            middle_name="Иванович",
            email="sergey.petrov@example.ru",
            snils="15623648877",
        ),
        "только SMS",
    ),
)


async def seed_demo(uow: UnitOfWork, ctx: AppContext) -> list[str]:
    """Create the demo accounts that are missing; returns the logins created."""
    admin = AdminService(uow, ctx, operator="seed-demo")
    created = []
    for person in DEMO_PEOPLE:
        if await uow.accounts.find_by_login("phone", person.account.phone) is None:
            await admin.create_account(person.account)
            created.append(person.account.phone)
    return created
