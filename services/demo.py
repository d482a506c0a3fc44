"""Demo data for the offline set-up (`seed-demo`); running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.booking.demo import seed_booking
from services.chat.demo import seed_chat
from services.clinic.demo import seed_staff
from services.core.context import AppContext
from services.core.gateways import RegistryRecord
from services.identity.admin import AdminService, NewAccount
from services.record.demo import seed_record
from services.sharing.demo import seed_sharing
from storage.models import MedicalRecord, RegistryPerson
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
    DemoPerson(
        NewAccount(
            phone="+79990000003",
            password=DEMO_PASSWORD,
            last_name="Смирнова",
            first_name="Ольга",
            middle_name="Петровна",
            email="olga.smirnova@example.ru",
            snils="20345678149",
        ),
        "только SMS",
    ),
    DemoPerson(
        NewAccount(
            phone="+79990000004",
            password=DEMO_PASSWORD,
            last_name="Кузнецов",
            first_name="Андрей",
            middle_name="Викторович",
            email="andrey.kuznetsov@example.ru",
            snils="53014629850",
        ),
        "только SMS",
    ),
)


DEMO_RESTRICTION = (
    "По сведениям государственного реестра действует ограничение, установленное решением "
    "суда. Заявление может подать ваш законный представитель; за разъяснениями обратитесь в МФЦ."
)

DEMO_REGISTRY = (
    RegistryRecord("11223344595", "Иванова", "Анна", "Сергеевна", date(1990, 3, 5)),
    RegistryRecord("15623648877", "Петров", "Сергей", "Иванович", date(1985, 7, 14)),
    # Ольга Смирнова is in the registry under another СНИЛС than the one in her
    # account (and in the form below): her application comes back with
    # «Требуются исправления» (СНИЛС does not match); SMIRNOVA_CORRECT_SNILS fixes it.
    RegistryRecord("41278903586", "Смирнова", "Ольга", "Петровна", date(1992, 9, 2)),
    # Андрей Кузнецов has a legal restriction: his application is refused («Отказано»).
    RegistryRecord(
        "53014629850",
        "Кузнецов",
        "Андрей",
        "Викторович",
        date(1978, 4, 11),
        legal_restriction=DEMO_RESTRICTION,
    ),
)

# What each demo person types into «Заявление на ЭМК», field by field, exactly as
# README quotes it (choices by their button labels). Petrov's application opens
# the card, Smirnova's needs a correction, Kuznetsov's is refused.
PETROV_APPLICATION: dict[str, str] = {
    "full_name": "Петров Сергей Иванович",
    "birth_date": "14.07.1985",
    "sex": "Мужской",
    "snils": "156-236-488 77",
    "policy_number": "7750 1983 4027 1955",
    "policy_end": "31.12.2045",
    "passport_series": "45 05",
    "passport_number": "123456",
    "passport_issue_date": "25.07.2005",
    "passport_division_code": "770-001",
    "passport_issued_by": "ОВД района Хамовники г. Москвы",
    "inn": "771234567859",
    "address": "г. Москва, ул. Тверская, д. 7, кв. 12",
    "phone": "+79990000002",
    "email": "sergey.petrov@example.ru",
    "kind": "Новая карта",
    "comment": "",
}
SMIRNOVA_APPLICATION: dict[str, str] = {
    "full_name": "Смирнова Ольга Петровна",
    "birth_date": "02.09.1992",
    "sex": "Женский",
    "snils": "203-456-781 49",
    "policy_number": "5098 2314 5670 2318",
    "policy_end": "31.12.2040",
    "passport_series": "46 12",
    "passport_number": "654321",
    "passport_issue_date": "15.09.2012",
    "passport_division_code": "500-001",
    "passport_issued_by": "ТП УФМС России по Московской обл. в г. Химки",
    "inn": "",
    "address": "Московская обл., г. Химки, ул. Ленинградская, д. 3, кв. 41",
    "phone": "+79990000003",
    "email": "",
    "kind": "Новая карта",
    "comment": "",
}
# The СНИЛС to type when «Требуются исправления» asks Smirnova to correct it.
SMIRNOVA_CORRECT_SNILS = "412-789-035 86"
KUZNETSOV_APPLICATION: dict[str, str] = {
    "full_name": "Кузнецов Андрей Викторович",
    "birth_date": "11.04.1978",
    "sex": "Мужской",
    "snils": "530-146-298 50",
    "policy_number": "7792 4503 1876 4201",
    "policy_end": "31.12.2042",
    "passport_series": "40 23",
    "passport_number": "112233",
    "passport_issue_date": "20.04.2023",
    "passport_division_code": "780-012",
    "passport_issued_by": "ГУ МВД России по г. Санкт-Петербургу и Ленинградской обл.",
    "inn": "",
    "address": "г. Санкт-Петербург, Невский пр., д. 20, кв. 8",
    "phone": "+79990000004",
    "email": "",
    "kind": "Новая карта",
    "comment": "",
}
# Keyed by the account's phone. An empty value is an optional field left out.
DEMO_APPLICATIONS: dict[str, dict[str, str]] = {
    "+79990000002": PETROV_APPLICATION,
    "+79990000003": SMIRNOVA_APPLICATION,
    "+79990000004": KUZNETSOV_APPLICATION,
}


async def seed_demo(uow: UnitOfWork, ctx: AppContext) -> list[str]:
    """Create the demo accounts and registry entries that are missing.

    Returns the logins of the accounts created.
    """
    admin = AdminService(uow, ctx, operator="seed-demo")
    created = []
    for person in DEMO_PEOPLE:
        if await uow.identity.accounts.find_by_login("phone", person.account.phone) is None:
            await admin.create_account(person.account)
            created.append(person.account.phone)
    for entry in DEMO_REGISTRY:
        if await uow.enrolment.registry.by_snils(entry.snils) is None:
            await uow.enrolment.registry.add(
                RegistryPerson(
                    snils=entry.snils,
                    last_name=entry.last_name,
                    first_name=entry.first_name,
                    middle_name=entry.middle_name,
                    birth_date=entry.birth_date,
                    legal_restriction=entry.legal_restriction,
                )
            )
    await _open_anna_record(uow, ctx)
    await _seed_booking(uow, ctx)
    await seed_staff(uow, ctx)
    await _seed_sharing(uow, ctx)
    await _seed_chat(uow, ctx)
    return created


async def _seed_booking(uow: UnitOfWork, ctx: AppContext) -> None:
    anna = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[0].account.phone)
    petrov = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[1].account.phone)
    if anna is not None and petrov is not None:
        await seed_booking(uow, ctx, anna_account_id=anna.id, petrov_account_id=petrov.id)


async def _seed_chat(uow: UnitOfWork, ctx: AppContext) -> None:
    anna = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[0].account.phone)
    if anna is not None:
        await seed_chat(uow, ctx, anna_account_id=anna.id)


async def _seed_sharing(uow: UnitOfWork, ctx: AppContext) -> None:
    anna = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[0].account.phone)
    petrov = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[1].account.phone)
    if anna is not None and petrov is not None:
        await seed_sharing(uow, ctx, anna_account_id=anna.id, petrov_account_id=petrov.id)


# Анна's card is open from the start (her application was decided long ago), so the
# record's journeys can be walked at once; Петров's opens through his application.
ANNA_POLICY_NUMBER = "7700 4512 9083 1166"


async def _open_anna_record(uow: UnitOfWork, ctx: AppContext) -> None:
    account = await uow.identity.accounts.find_by_login("phone", DEMO_PEOPLE[0].account.phone)
    if account is None or await uow.record.records.for_account(account.id) is not None:
        return
    now = ctx.gateways.clock.now()
    person = DEMO_REGISTRY[0]
    await uow.record.records.add(
        MedicalRecord(
            account_id=account.id,
            application_id=None,
            last_name=person.last_name,
            first_name=person.first_name,
            middle_name=person.middle_name,
            birth_date=person.birth_date,
            sex="female",
            snils=person.snils,
            policy_number=ANNA_POLICY_NUMBER.replace(" ", ""),
            policy_end=None,
            created_at=now,
            updated_at=now,
        )
    )
    await seed_record(uow, ctx, account.id)
