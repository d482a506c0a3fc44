"""Doctors through the screens: the staff sign-in with the authenticator app, «Кабинет
врача», «Пациенты» and a patient's card opened with a step-up (per card, timed), and what
the patient reads in «Журнал действий»."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pyotp
from PIL import Image
from sqlalchemy import exists, select

from services.clinic.demo import demo_totp_secret
from services.clinic.patients import ClinicService
from services.clinic.staff import NewStaff, StaffAdmin
from services.core.access import CurrentUser
from services.core.errors import AccessDenied
from storage.models import (
    Account,
    Appointment,
    AuditEntry,
    Doctor,
    MedicalRecord,
    PatientAttachment,
    Slot,
)
from tests.support.bot import ANNA_PHONE, PASSWORD, App
from tgsandbox import SandboxUser

MSK = ZoneInfo("Europe/Moscow")
SOKOLOVA_PHONE = "+79990000101"
ORLOV_PHONE = "+79990000103"
KEY = re.compile(r"((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})")


def sokolova_code(app: App) -> str:
    return pyotp.TOTP(demo_totp_secret(SOKOLOVA_PHONE)).at(app.clock.now())


async def next_code_step(app: App) -> None:
    """Authenticator codes are accepted once: the next one comes 30 s later."""
    app.clock.advance(seconds=30)


async def login(app: App, user: SandboxUser, phone: str, password: str = PASSWORD) -> None:
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(phone)
    await user.send(password)
    if user.current_reply_keyboard():
        await user.press("Поделиться номером")


async def sign_in_sokolova(app: App, user: SandboxUser) -> None:
    sent_before = len(app.sms.sent)
    await login(app, user, SOKOLOVA_PHONE)
    # Staff sign in with the app's code only: no choice, no SMS.
    assert "Откройте приложение для кодов" in user.last.text, user.last.text
    assert "Код из SMS" not in user.last.buttons
    assert len(app.sms.sent) == sent_before
    await user.send(sokolova_code(app))
    assert "Главное меню" in user.last.text, user.last.text


async def add_record(app: App, phone: str, last: str, first: str, middle: str, snils: str) -> int:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None
        now = app.clock.now()
        await uow.record.records.add(
            MedicalRecord(
                account_id=account.id,
                application_id=None,
                last_name=last,
                first_name=first,
                middle_name=middle,
                birth_date=date(1980, 1, 2),
                sex="female",
                snils=snils,
                policy_number="5098231456702318",
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
        return account.id


async def staff_of(app: App, phone: str) -> tuple[CurrentUser, int]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None
        (row,) = await uow.clinic.staff.of_account(account.id)
        return CurrentUser(account.id, 0, account.first_name), row.id


async def audit_rows(app: App, action: str) -> list[AuditEntry]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list((await uow.session.execute(stmt)).scalars())


async def test_first_sign_in_enrols_the_authenticator_and_changes_the_password(app: App) -> None:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        created = await StaffAdmin(uow, app.runtime.ctx, "test").create_staff(
            NewStaff(
                organisation="1027700000019",
                role="doctor",
                phone=ORLOV_PHONE,
                last_name="Орлов",
                first_name="Игорь",
                middle_name="Петрович",
                specialty="терапевт",
            )
        )
        await StaffAdmin(uow, app.runtime.ctx, "test").confirm_staff(created.staff_id)
        await uow.commit()
    assert created.temporary_password is not None
    assert created.booking_doctor_id is not None  # the booking demo's терапевт Орлов

    orlov = app.user(user_id=3003, phone=ORLOV_PHONE, name="Игорь")
    await login(app, orlov, ORLOV_PHONE, created.temporary_password)
    # No authenticator yet: the SMS code first.
    assert "SMS" in orlov.last.text, orlov.last.text
    await orlov.send(app.last_sms_code())

    photo = next(m for m in orlov.bot_messages if m.photo is not None)
    assert "Приложение для кодов" in (photo.text or "")
    Image.open(io.BytesIO(photo.photo.data)).verify()  # a real picture of the QR code
    match = KEY.search(photo.text or "")
    assert match, photo.text
    secret = match.group(1).replace(" ", "")
    assert "Введите 6-значный код из приложения" in orlov.last.text
    assert "Главное меню" not in orlov.last.text

    await orlov.send("123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    assert "Неверный код из приложения" in orlov.last.text, orlov.last.text
    await orlov.send(pyotp.TOTP(secret).at(app.clock.now()))
    # The key is not left in the chat; the temporary password must be replaced.
    assert all(secret[:8] not in (m.text or "") for m in orlov.messages)
    assert "Срок действия пароля истёк" in orlov.last.text, orlov.last.text
    await orlov.send(created.temporary_password)
    assert "должен отличаться" in orlov.last.text
    await orlov.send("Новый-Пароль1")
    text = orlov.last.text
    assert "Главное меню" in text, text
    assert "Кабинет врача" in orlov.last.buttons
    assert [r.outcome for r in await audit_rows(app, "staff.totp.enrol")] == ["ok"]

    # The next sign-in asks for the app's code, with the new password.
    await orlov.send("/logout")
    await next_code_step(app)
    sent = len(app.sms.sent)
    await login(app, orlov, ORLOV_PHONE, "Новый-Пароль1")
    assert "Откройте приложение для кодов" in orlov.last.text, orlov.last.text
    assert len(app.sms.sent) == sent
    await orlov.send(pyotp.TOTP(secret).at(app.clock.now()))
    assert "Главное меню" in orlov.last.text


async def test_second_sign_in_asks_for_the_code_and_cabinet_shows(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await login(app, sokolova, SOKOLOVA_PHONE)
    await sokolova.send("000000" if sokolova_code(app) != "000000" else "111111")
    assert "Неверный код из приложения" in sokolova.last.text
    await sokolova.send(sokolova_code(app))
    assert "Главное меню" in sokolova.last.text
    await sokolova.press("Кабинет врача")
    text = sokolova.last.text
    assert text.startswith("Кабинет врача"), text
    assert "терапевт, Городская поликлиника № 1" in text
    # A patient sees no cabinet.
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    assert "Кабинет врача" not in anna.last.buttons


async def test_expired_staff_password_is_changed_at_sign_in(app: App) -> None:
    app.clock.advance(days=91)
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await login(app, sokolova, SOKOLOVA_PHONE)
    await sokolova.send(sokolova_code(app))
    assert "Срок действия пароля истёк" in sokolova.last.text, sokolova.last.text
    assert "каждые 90 дней" in sokolova.last.text
    await sokolova.send("short")
    assert "В пароле не хватает" in sokolova.last.text
    await sokolova.send("Весна2027сад")
    assert "Главное меню" in sokolova.last.text
    rows = await audit_rows(app, "password.change")
    assert rows[-1].details is not None and rows[-1].details["reason"] == "expired"
    await sokolova.send("/logout")
    await next_code_step(app)
    await login(app, sokolova, SOKOLOVA_PHONE, "Весна2027сад")
    await sokolova.send(sokolova_code(app))
    assert "Главное меню" in sokolova.last.text


async def open_patients(sokolova: SandboxUser) -> None:
    await sokolova.press("Кабинет врача")
    await sokolova.press("Пациенты")
    assert "Пациенты — Городская поликлиника № 1" in sokolova.last.text, sokolova.last.text


async def test_step_up_per_card_refused_wrong_code_expires(app: App) -> None:
    petrov_id = await add_record(app, "+79990000002", "Петров", "Сергей", "Иванович", "15623648877")
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    text = sokolova.last.text
    assert "Найдено: 2." in text, text
    assert "Иванова Анна Сергеевна, 05.03.1990" in sokolova.last.buttons

    # Without a code the card stays closed: a forged call is refused by the access rule.
    user, staff_id = await staff_of(app, SOKOLOVA_PHONE)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        try:
            await ClinicService(uow, app.runtime.ctx).card_access(user, staff_id, petrov_id)
        except AccessDenied as exc:
            assert "кодом из приложения-аутентификатора" in exc.message
        else:
            raise AssertionError("a card opened without a step-up")

    await sokolova.press("Иванова Анна Сергеевна")
    assert "Выберите цель доступа" in sokolova.last.text
    assert "15 мин" in sokolova.last.text
    await sokolova.press("приём")
    assert "Иванова А. С. · приём" in sokolova.last.text
    await sokolova.send("abc")
    assert "Код состоит из 6 цифр" in sokolova.last.text
    # The sign-in's code is not taken twice; a wrong one is refused.
    await sokolova.send(sokolova_code(app))
    assert "уже использован" in sokolova.last.text, sokolova.last.text
    await next_code_step(app)
    await sokolova.send("000000" if sokolova_code(app) != "000000" else "111111")
    assert "Неверный код из приложения" in sokolova.last.text
    assert not await audit_rows(app, "doctor.step_up")
    await sokolova.send(sokolova_code(app))
    card = sokolova.last.text
    until = (app.clock.now() + timedelta(minutes=15)).astimezone(MSK).strftime("%H:%M")
    assert card.startswith(f"Пациент: Иванова А. С. · приём · доступ до {until}"), card
    await sokolova.press("Результаты анализов")
    assert sokolova.last.text.startswith("Пациент: Иванова А. С.")

    # A second card needs its own step-up.
    await sokolova.press("В меню")
    assert "Пациенты — Городская поликлиника № 1" in sokolova.last.text
    await sokolova.press("Петров Сергей Иванович")
    assert "Выберите цель доступа" in sokolova.last.text
    await sokolova.press("К списку пациентов")
    # Анна's card opens again within its step-up, without a code.
    await sokolova.press("Иванова Анна Сергеевна")
    assert sokolova.last.text.startswith("Пациент: Иванова А. С. · приём"), sokolova.last.text
    assert len(await audit_rows(app, "doctor.step_up")) == 1
    assert len(await audit_rows(app, "doctor.card.open")) == 2

    # After 15 minutes the next click is refused and the card closes.
    app.clock.advance(minutes=16)
    await sokolova.press("Результаты анализов")
    assert "Срок доступа к карте пациента истёк" in sokolova.last.text, sokolova.last.text
    assert "Пациенты — Городская поликлиника № 1" in sokolova.last.text
    await sokolova.press("Иванова Анна Сергеевна")
    assert "Выберите цель доступа" in sokolova.last.text


async def test_patient_not_attached_is_neither_listed_nor_opened(app: App) -> None:
    smirnova_id = await add_record(
        app, "+79990000003", "Смирнова", "Ольга", "Петровна", "20345678149"
    )
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    assert not any("Смирнова" in b for b in sokolova.last.buttons)
    await sokolova.send("смирнова")
    assert "Никого не нашлось" in sokolova.last.text, sokolova.last.text
    await sokolova.send("203-456-781 49")
    assert "Никого не нашлось" in sokolova.last.text
    await sokolova.send("123")
    assert "СНИЛС (11 цифр)" in sokolova.last.text
    await sokolova.send("иванова")
    assert "Поиск: иванова" in sokolova.last.text and "Найдено: 1." in sokolova.last.text
    assert "Иванова Анна Сергеевна, 05.03.1990" in sokolova.last.buttons

    # A forged press with her id is refused and journaled.
    user, staff_id = await staff_of(app, SOKOLOVA_PHONE)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        service = ClinicService(uow, app.runtime.ctx)
        try:
            await service.open_card(user, staff_id, smirnova_id, "приём", sokolova_code(app))
        except AccessDenied as exc:
            assert exc.message == "Пациент не прикреплён к вашей медицинской организации."
        else:
            raise AssertionError("a patient who is not attached was opened")
        await uow.commit()
    denied = await audit_rows(app, "doctor.card.open")
    assert [(r.outcome, r.subject_account_id) for r in denied] == [("denied", smirnova_id)]
    assert not await audit_rows(app, "doctor.step_up")

    # A visit booked with this doctor lets the doctor find and open her card.
    async with app.runtime.uow_factory() as uow:
        (booked_with,) = (
            await uow.session.execute(select(Doctor).where(Doctor.staff_member_id == staff_id))
        ).scalars()
        slot = (
            await uow.session.execute(
                select(Slot)
                .where(
                    Slot.doctor_id == booked_with.id,
                    Slot.starts_at > app.clock.now(),
                    ~exists().where(Appointment.slot_id == Slot.id, Appointment.status == "booked"),
                )
                .order_by(Slot.starts_at)
                .limit(1)
            )
        ).scalar_one()
        uow.session.add(
            Appointment(
                slot_id=slot.id,
                doctor_id=booked_with.id,
                patient_account_id=smirnova_id,
                specialty_code="therapist",
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                status="booked",
                booked_by="test",
                created_at=app.clock.now(),
            )
        )
        await uow.commit()
    await sokolova.send("Смирнова")
    assert "Найдено: 1." in sokolova.last.text, sokolova.last.text
    await sokolova.press("Смирнова Ольга Петровна")
    await sokolova.press("приём")
    await next_code_step(app)
    await sokolova.send(sokolova_code(app))
    assert sokolova.last.text.startswith("Пациент: Смирнова О. П. · приём"), sokolova.last.text


async def test_opening_is_journaled_and_shown_to_the_patient(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    await sokolova.press("Иванова Анна Сергеевна")
    await sokolova.press("консультация")
    await next_code_step(app)
    await sokolova.send(sokolova_code(app))
    assert sokolova.last.text.startswith("Пациент: Иванова А. С. · консультация")

    (step_up,) = await audit_rows(app, "doctor.step_up")
    (opened,) = await audit_rows(app, "doctor.card.open")
    user, staff_id = await staff_of(app, SOKOLOVA_PHONE)
    assert opened.actor == f"staff:{staff_id}" and opened.actor_account_id == user.account_id
    assert opened.basis == "doctor_step_up" and opened.permission == "record.read"
    assert opened.details is not None and opened.details["purpose"] == "консультация"
    assert step_up.details is not None and step_up.details["purpose"] == "консультация"

    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await anna.press("Журнал действий")
    journal = anna.last.text
    assert "Врач Соколова М. А. открыла вашу карту: консультация" in journal, journal


async def test_patients_and_a_card_on_postgresql(pg_app: App) -> None:
    app = pg_app
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    await sokolova.send("ИВАНОВА")
    assert "Найдено: 1." in sokolova.last.text, sokolova.last.text
    await sokolova.send("7700 4512 9083 1166")
    assert "Найдено: 1." in sokolova.last.text, sokolova.last.text
    await sokolova.press("Иванова Анна Сергеевна")
    await sokolova.press("заключение")
    await next_code_step(app)
    await sokolova.send(sokolova_code(app))
    assert sokolova.last.text.startswith("Пациент: Иванова А. С. · заключение")


async def test_org_admin_confirms_a_doctor_in_the_bot(app: App) -> None:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        admin = StaffAdmin(uow, app.runtime.ctx, "test")
        # Соколова also administers her polyclinic; Орлов waits for confirmation.
        await admin.create_staff(
            NewStaff(
                organisation="1027700000019",
                role="org-admin",
                phone=SOKOLOVA_PHONE,
                last_name="Соколова",
                first_name="Мария",
                middle_name="Андреевна",
            )
        )
        orlov = await admin.create_staff(
            NewStaff(
                organisation="1027700000019",
                role="doctor",
                phone=ORLOV_PHONE,
                last_name="Орлов",
                first_name="Игорь",
                middle_name="Петрович",
                specialty="therapist",
            )
        )
        await uow.commit()
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await sokolova.press("Кабинет врача")
    await sokolova.press("Сотрудники на подтверждении")
    assert "Орлов Игорь Петрович — терапевт" in sokolova.last.text, sokolova.last.text
    await sokolova.press("Подтвердить: Орлов Игорь Петрович")
    assert "Работа сотрудника Орлов Игорь Петрович подтверждена." in sokolova.last.text
    assert "ожидающих подтверждения, нет" in sokolova.last.text
    row = (await audit_rows(app, "staff.confirm"))[-1]
    assert row.subject_account_id == orlov.account_id and row.actor.startswith("staff:")


async def test_patients_are_paged(app: App) -> None:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        organisation = await uow.clinic.organisations.by_ogrn("1027700000019")
        assert organisation is not None
        now = app.clock.now()
        for n in range(8):
            account = await uow.identity.accounts.add(
                Account(
                    phone=f"+7999000020{n}",
                    last_name=f"Яковлева{n}",
                    first_name="Вера",
                    password_hash="!",
                    created_at=now,
                )
            )
            await uow.clinic.attachments.add(
                PatientAttachment(
                    patient_account_id=account.id,
                    organisation_id=organisation.id,
                    since=now - timedelta(days=1),
                )
            )
            await uow.record.records.add(
                MedicalRecord(
                    account_id=account.id,
                    application_id=None,
                    last_name=f"Яковлева{n}",
                    first_name="Вера",
                    middle_name=None,
                    birth_date=date(1970, 1, 1),
                    sex="female",
                    snils=f"0000000010{n}",
                    policy_number=f"000000000000010{n}",
                    created_at=now,
                    updated_at=now,
                )
            )
        await uow.commit()
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    assert "Найдено: 9. Страница 1 из 2." in sokolova.last.text, sokolova.last.text
    first_page = [b for b in sokolova.last.buttons if ", " in b]
    assert len(first_page) == 8 and first_page[0].startswith("Иванова Анна")
    await sokolova.press("Вперёд ›")
    assert "Страница 2 из 2." in sokolova.last.text
    assert [b for b in sokolova.last.buttons if ", " in b] == ["Яковлева7 Вера, 01.01.1970"]
    await sokolova.press("‹ Назад")
    assert "Страница 1 из 2." in sokolova.last.text
