"""A doctor's changes to a card, through the screens: diagnoses, a prescription, notes, a
referral that booking then accepts, a conclusion issued as a signed PDF — each as the
patient then sees it, refused once the step-up has ended, and in the patient's journal."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.signing import root_file
from services.core.access import DoctorPrincipal
from services.core.errors import AccessDenied
from services.record.authored import DoctorEntries
from services.record.signing import verify_pdf
from storage.models import Diagnosis, Medication, RecordDocument
from tests.clinic.test_clinic_dialogs import (
    SOKOLOVA_PHONE,
    add_record,
    audit_rows,
    next_code_step,
    open_patients,
    sign_in_sokolova,
    sokolova_code,
    staff_of,
)
from tests.support.bot import ANNA_PHONE, PETROV_PHONE, App
from tests.support.extracts import pdf_text
from tgsandbox import SandboxUser

MSK = ZoneInfo("Europe/Moscow")


def today(app: App) -> str:
    return app.clock.now().astimezone(MSK).strftime("%d.%m.%Y")


async def open_card(app: App, sokolova: SandboxUser, patient: str) -> None:
    """Соколова signs in and opens the patient's card for «приём» with a fresh code."""
    await sign_in_sokolova(app, sokolova)
    await open_patients(sokolova)
    await sokolova.press(patient)
    await sokolova.press("приём")
    await next_code_step(app)
    await sokolova.send(sokolova_code(app))
    assert sokolova.last.text.startswith("Пациент: "), sokolova.last.text
    await sokolova.press("Внести в карту")
    assert "Записи врача" in sokolova.last.text, sokolova.last.text


async def account_id(app: App, phone: str) -> int:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None
        return account.id


async def journal_text(app: App, person: SandboxUser) -> str:
    await person.send("/menu")
    await person.press("Журнал действий")
    pages = [person.last.text or ""]
    while "Дальше" in person.last.buttons:
        await person.press("Дальше")
        pages.append(person.last.text or "")
    return "\n".join(pages)


async def test_every_change_as_the_patient_sees_it(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Иванова Анна Сергеевна")
    added = f"добавлено: врач Соколова М. А., {today(app)}"

    # A diagnosis found by words; a wrong search is told and asked again.
    await sokolova.press("Диагноз")
    assert "Найдите диагноз по МКБ-10" in sokolova.last.text
    await sokolova.send("ы")
    assert "Напишите код МКБ-10" in sokolova.last.text
    await sokolova.send("несуществующее слово")
    assert "Ничего не нашлось" in sokolova.last.text
    await sokolova.send("гипертензия")
    assert "I10 · Эссенциальная [первичная] гипертензия" in sokolova.last.buttons
    await sokolova.press("I10 · Эссенциальная")
    assert "✅ Диагноз I10 добавлен в карту пациента." in sokolova.last.text
    assert sokolova.last.text.startswith("Пациент: Иванова А. С. · приём")

    # Another by its code, then resolved.
    await sokolova.press("Ещё запись")
    await sokolova.press("Диагноз")
    await sokolova.send("e11.9")
    await sokolova.press("E11.9 · Инсулиннезависимый")
    await sokolova.press("Ещё запись")
    await sokolova.press("Снять диагноз")
    await sokolova.press("E11.9 · Инсулиннезависимый")
    assert "✅ Диагноз снят: E11.9 Инсулиннезависимый" in sokolova.last.text

    # A prescription: name, dose, how, the course; a bad course is asked again.
    await sokolova.press("Ещё запись")
    await sokolova.press("Назначение")
    await sokolova.send("Лизиноприл")
    await sokolova.send("10 мг")
    await sokolova.send("по 1 таблетке утром")
    await sokolova.send("долго")
    assert "длительность курса в днях" in sokolova.last.text
    await sokolova.send("30")
    assert "Назначение добавлено в карту: Лизиноприл 10 мг, курс 30 дн." in sokolova.last.text

    # A treatment plan.
    await sokolova.press("Ещё запись")
    await sokolova.press("План лечения")
    await sokolova.send("Контроль давления дома дважды в день, повторный приём через месяц.")
    assert "План лечения добавлен в карту пациента." in sokolova.last.text

    # What Анна sees.
    anna = app.user()
    await app.sign_in(anna)
    await anna.press("Моя медкарта")
    await anna.press("Диагнозы")
    assert "I10 · Эссенциальная [первичная] гипертензия" in anna.last.buttons
    assert any(b.startswith("E11.9 · снят") for b in anna.last.buttons), anna.last.buttons
    await anna.press("I10 · Эссенциальная")
    text = anna.last.text
    assert "Врач: Соколова М. А." in text and "Статус: активен" in text, text
    assert f"({added})" in text, text
    await anna.press("К списку")
    await anna.press("E11.9 · снят")
    assert f"Статус: снят ({today(app)})" in anna.last.text, anna.last.text
    await anna.press("К списку")
    await anna.press("К разделам")
    await anna.press("Лекарства")
    await anna.press("Лизиноприл 10 мг")
    text = anna.last.text
    assert "Как принимать: по 1 таблетке утром" in text and f"({added})" in text, text
    await anna.press("К списку")
    await anna.press("К разделам")
    await anna.press("Посещения врачей")
    await anna.press(f"{today(app)} · терапевт, Соколова М. А.")
    text = anna.last.text
    assert "План лечения: Контроль давления дома дважды в день" in text, text
    assert f"({added})" in text

    # The rows: attributed to the doctor's step-up, for Анна's card.
    anna_id = await account_id(app, ANNA_PHONE)
    for action in (
        "record.doctor.diagnosis.add",
        "record.doctor.diagnosis.resolve",
        "record.doctor.prescription.add",
        "record.doctor.note.add",
    ):
        rows = await audit_rows(app, action)
        assert rows and all(r.subject_account_id == anna_id for r in rows), action
        assert all(r.actor.startswith("staff:") for r in rows)
        assert all(r.basis == "doctor_step_up" for r in rows)
        assert all(r.permission == "record.write" for r in rows)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        (diagnosis,) = (
            await uow.session.execute(select(Diagnosis).where(Diagnosis.icd10_code == "I10"))
        ).scalars()
        assert diagnosis.source == "doctor" and diagnosis.author_staff_id is not None
        (medication,) = (
            await uow.session.execute(select(Medication).where(Medication.name == "Лизиноприл"))
        ).scalars()
        assert (medication.end_on - medication.start_on).days == 29

    journal = await journal_text(app, anna)
    assert "Врач Соколова М. А. добавила в вашу карту диагноз" in journal, journal
    assert "Врач Соколова М. А. добавила в вашу карту запись: план лечения" in journal
    assert "Врач Соколова М. А. добавила в вашу карту назначение лекарства" in journal


async def test_refused_once_the_step_up_has_ended(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Иванова Анна Сергеевна")
    await sokolova.press("Диагноз")
    await sokolova.send("J06")

    app.clock.advance(minutes=app.runtime.ctx.policy.doctor_step_up_minutes + 1)  # type: ignore[union-attr]
    await sokolova.press("J06.9 · Острая инфекция")
    assert "Срок доступа к карте пациента истёк" in sokolova.last.text, sokolova.last.text
    assert "Пациенты — Городская поликлиника № 1" in sokolova.last.text

    # A forged call straight to the use case is refused by the access rule, and journaled.
    user, staff_id = await staff_of(app, SOKOLOVA_PHONE)
    anna_id = await account_id(app, ANNA_PHONE)
    petrov_id = await add_record(app, PETROV_PHONE, "Петров", "Сергей", "Иванович", "15623648877")
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        organisation = (await uow.clinic.staff.get(staff_id)).organisation_id  # type: ignore[union-attr]
        for patient, reason in ((anna_id, "истёк"), (petrov_id, "подтвердите доступ")):
            doctor = DoctorPrincipal(staff_id, user.account_id, organisation, patient)
            try:
                await DoctorEntries(uow, app.runtime.ctx).add_diagnosis(doctor, "J06.9")
            except AccessDenied as exc:
                assert reason in exc.message, exc.message
            else:
                raise AssertionError("a change without a live step-up")
        await uow.commit()
    denied = await audit_rows(app, "record.doctor.diagnosis.add")
    assert [(r.outcome, (r.details or {}).get("denied")) for r in denied] == [
        ("denied", "step_up_expired"),
        ("denied", "no_step_up"),
    ]
    async with app.runtime.uow_factory() as uow:
        rows = (
            await uow.session.execute(select(Diagnosis).where(Diagnosis.source == "doctor"))
        ).scalars()
        assert not [r for r in rows if r.author_staff_id is not None]


async def test_conclusion_is_a_signed_pdf_the_patient_receives(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)  # her chat is bound: the push has somewhere to go
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Иванова Анна Сергеевна")
    await sokolova.press("Заключение")
    assert "Найдите диагноз для заключения" in sokolova.last.text
    await sokolova.send("J06.9")
    await sokolova.press("J06.9 · Острая инфекция")
    await sokolova.send("Зев гиперемирован, температура 37,2.")
    await sokolova.send("Обильное питьё, полоскание горла.")
    await sokolova.send("через 7 дней")
    text = sokolova.last.text
    assert "Диагноз: J06.9 — Острая инфекция верхних дыхательных путей" in text, text
    assert "Повторный приём: через 7 дней" in text
    await sokolova.press("Выдать заключение")
    assert "Заключение подписано электронной подписью" in sokolova.last.text, sokolova.last.text

    # Анна gets a push, and the signed PDF in «Выписки и заключения».
    await app.deliver_pushes()
    assert any(
        "Врач Соколова М. А. выдал(а) вам заключение" in (m.text or "") for m in anna.bot_messages
    ), [m.text for m in anna.bot_messages]
    await anna.send("/menu")
    await anna.press("Моя медкарта")
    await anna.press("Выписки и заключения")
    await anna.press("Заключение врача: терапевт")
    text = anna.last.text
    assert f"Добавлено: врач Соколова М. А., {today(app)}" in text, text
    assert "Рекомендации: Обильное питьё, полоскание горла." in text
    await anna.press("Скачать")
    sent = next(m for m in reversed(anna.bot_messages) if m.document is not None)
    assert sent.raw.get("has_protected_content") is True
    data = sent.document.data
    assert "Зев гиперемирован" in pdf_text(data)
    verdict = verify_pdf(data, root_file(app.settings).read_bytes())
    assert verdict.ok and verdict.intact and verdict.trusted, verdict

    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        (document,) = (
            await uow.session.execute(
                select(RecordDocument)
                .where(RecordDocument.kind == "conclusion")
                .where(RecordDocument.source == "doctor")
            )
        ).scalars()
        assert document.author_staff_id is not None and document.storage_key is not None
    (issued,) = await audit_rows(app, "record.doctor.conclusion.add")
    assert issued.outcome == "ok" and issued.basis == "doctor_step_up"
    journal = await journal_text(app, anna)
    assert "Врач Соколова М. А. выдала вам заключение с электронной подписью" in journal, journal


async def test_a_referral_opens_booking_to_the_specialist(app: App) -> None:
    await add_record(app, PETROV_PHONE, "Петров", "Сергей", "Иванович", "15623648877")
    petrov = app.user(user_id=1002, phone=PETROV_PHONE, name="Пётр")
    await app.sign_in(petrov, login=PETROV_PHONE)
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Петров Сергей Иванович")
    await sokolova.press("Направление")
    await sokolova.press("Кардиолог")
    assert "Направление: Кардиолог." in sokolova.last.text, sokolova.last.text
    await sokolova.send("Боли в груди при нагрузке")
    assert "Направление к кардиологу выдано." in sokolova.last.text, sokolova.last.text

    await app.deliver_pushes()
    assert any("направление к врачу: кардиолог" in (m.text or "") for m in petrov.bot_messages)
    await petrov.send("/menu")
    await petrov.press("Записаться к врачу")
    await petrov.press("Кардиолог (есть направление)")
    assert "Белов Андрей Николаевич, каб. 301" in petrov.last.buttons, petrov.last.text
    (row,) = await audit_rows(app, "record.doctor.referral.add")
    assert row.outcome == "ok" and (row.details or {}).get("specialty") == "cardiologist"
    journal = await journal_text(app, petrov)
    assert "Врач Соколова М. А. выдала вам направление к врачу" in journal, journal
