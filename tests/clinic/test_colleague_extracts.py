"""«Отправить выписку врачу» through the screens: Соколова sends a signed extract of
Анна's record to кардиолог Белов, who finds it in «Входящие выписки» and opens only
what was sent — not the card; Анна's journal shows both."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from bot.signing import root_file
from services.clinic.demo import demo_totp_secret
from services.clinic.patients import ClinicService
from services.core.access import CurrentUser, DoctorPrincipal
from services.core.errors import AccessDenied, DomainError
from services.record.colleague import ColleagueInbox
from services.record.sections import RecordSections
from services.record.signing import verify_pdf
from storage.models import ColleagueExtract
from tests.clinic.test_card_changes import account_id, journal_text, open_card
from tests.clinic.test_clinic_dialogs import SOKOLOVA_PHONE, audit_rows, login, staff_of
from tests.support.bot import ANNA_PHONE, App
from tests.support.extracts import pdf_text
from tgsandbox import SandboxUser

BELOV_PHONE = "+79990000102"


async def sign_in_belov(app: App, belov: SandboxUser) -> None:
    await login(app, belov, BELOV_PHONE)
    await belov.send(pyotp.TOTP(demo_totp_secret(BELOV_PHONE)).at(app.clock.now()))
    assert "Главное меню" in belov.last.text, belov.last.text


async def test_an_extract_to_a_colleague_who_sees_only_what_was_sent(app: App) -> None:
    belov = app.user(user_id=3002, phone=BELOV_PHONE, name="Андрей")
    await sign_in_belov(app, belov)  # his chat is bound: the push has somewhere to go
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Иванова Анна Сергеевна")
    await sokolova.press("Отправить выписку врачу")
    await sokolova.send("12345")
    assert "Напишите фамилию врача" in sokolova.last.text, sokolova.last.text
    await sokolova.send("соколова")  # herself: not offered
    assert "Врачей с такой фамилией не нашлось" in sokolova.last.text
    await sokolova.send("белов")
    await sokolova.press("Белов А. Н., кардиолог, Городская поликлиника № 1")
    assert "Получатель: Белов А. Н., кардиолог" in sokolova.last.text
    await sokolova.press("Выписка за год")
    await sokolova.send("Прошу проконсультировать: жалобы на боли в груди при нагрузке.")
    text = sokolova.last.text
    assert "Выписка отправлена врачу: Белов А. Н., кардиолог" in text, text

    # Белов: a push, and the extract in «Входящие выписки».
    await app.deliver_pushes()
    pushes = [m.text or "" for m in belov.bot_messages]
    assert any(
        "Вам прислали выписку" in t and "Отправитель: Соколова М. А., терапевт" in t for t in pushes
    ), pushes
    await belov.send("/menu")
    await belov.press("Кабинет врача")
    await belov.press("Входящие выписки")
    assert "Всего: 1." in belov.last.text, belov.last.text
    await belov.press("Выписка из ЭМК")
    text = belov.last.text
    assert "Пациент: Иванова Анна Сергеевна, 05.03.1990" in text, text
    assert "Отправитель: Соколова М. А., терапевт, Городская поликлиника № 1" in text
    assert "жалобы на боли в груди при нагрузке" in text
    await belov.press("Скачать PDF")
    sent = next(m for m in reversed(belov.bot_messages) if m.document is not None)
    assert sent.raw.get("has_protected_content") is True
    data = sent.document.data
    assert "Иванова Анна Сергеевна" in pdf_text(data)
    verdict = verify_pdf(data, root_file(app.settings).read_bytes())
    assert verdict.ok and verdict.intact and verdict.trusted, verdict

    # Only what was sent: the card itself stays closed to him, and another's inbox too.
    anna_id = await account_id(app, ANNA_PHONE)
    belov_user, belov_staff = await staff_of(app, BELOV_PHONE)
    sokolova_user, sokolova_staff = await staff_of(app, SOKOLOVA_PHONE)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        ctx = app.runtime.ctx
        (row,) = (await uow.session.execute(select(ColleagueExtract))).scalars()
        assert row.recipient_staff_id == belov_staff and row.patient_account_id == anna_id
        staff = await uow.clinic.staff.get(belov_staff)
        assert staff is not None
        on_card = DoctorPrincipal(
            belov_staff, belov_user.account_id, staff.organisation_id, anna_id
        )
        for attempt in (
            lambda: ClinicService(uow, ctx).card_access(belov_user, belov_staff, anna_id),
            lambda: RecordSections(uow, ctx).page(on_card, anna_id, "diagnoses"),
        ):
            try:
                await attempt()
            except AccessDenied as exc:
                assert "подтвердите доступ кодом" in exc.message, exc.message
            else:
                raise AssertionError("the recipient opened the card")
        try:
            await ColleagueInbox(uow, ctx).open(sokolova_user, sokolova_staff, row.id)
        except DomainError as exc:
            assert exc.message == "Такой выписки среди присланных вам нет."
        else:
            raise AssertionError("an extract opened by someone it was not sent to")
        try:
            await ColleagueInbox(uow, ctx).open(
                CurrentUser(anna_id, 0, "Анна"), belov_staff, row.id
            )
        except AccessDenied:
            pass
        else:
            raise AssertionError("the inbox opened under someone else's staff row")
        await uow.commit()

    (send,) = await audit_rows(app, "record.colleague.send")
    assert send.subject_account_id == anna_id and send.basis == "doctor_step_up"
    assert (send.details or {}).get("recipient_staff_id") == belov_staff
    opened = await audit_rows(app, "record.colleague.open")
    # Each showing of the extract is journaled for Анна; the two forged openings are refused.
    assert {r.subject_account_id for r in opened if r.outcome == "ok"} == {anna_id}
    assert [r.subject_account_id for r in opened if r.outcome == "denied"] == [None, None]
    (download,) = await audit_rows(app, "record.colleague.download")
    assert download.basis == "colleague_extract"

    anna = app.user()
    await app.sign_in(anna)
    journal = await journal_text(app, anna)
    assert "Врач Соколова М. А. отправила выписку из вашей карты другому врачу" in journal, journal
    assert "Врач Белов А. Н. открыл присланную ему выписку из вашей карты" in journal


async def test_a_chosen_conclusion_is_sent_as_it_was_signed(app: App) -> None:
    belov = app.user(user_id=3002, phone=BELOV_PHONE, name="Андрей")
    await sign_in_belov(app, belov)
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await open_card(app, sokolova, "Иванова Анна Сергеевна")
    await sokolova.press("Заключение")
    await sokolova.send("I10")
    await sokolova.press("I10 · Эссенциальная")
    await sokolova.send("АД 150/95.")
    await sokolova.send("Контроль давления.")
    await sokolova.send("через месяц")
    await sokolova.press("Выдать заключение")
    await sokolova.press("Ещё запись")
    await sokolova.press("Отправить выписку врачу")
    await sokolova.send("Белов")
    await sokolova.press("Белов А. Н.")
    await sokolova.press("Заключение врача: терапевт")
    assert "Что: заключение врача." in sokolova.last.text, sokolova.last.text
    await sokolova.press("Без письма")
    assert "Выписка отправлена врачу: Белов А. Н." in sokolova.last.text, sokolova.last.text

    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        (row,) = (await uow.session.execute(select(ColleagueExtract))).scalars()
        assert row.content == "conclusion" and row.note is None
    await belov.send("/menu")
    await belov.press("Кабинет врача")
    await belov.press("Входящие выписки")
    await belov.press("Заключение врача: терапевт")
    assert "Сопроводительное письмо" not in belov.last.text
    await belov.press("Скачать PDF")
    sent = next(m for m in reversed(belov.bot_messages) if m.document is not None)
    data = sent.document.data
    assert "АД 150/95." in pdf_text(data)
    assert verify_pdf(data, root_file(app.settings).read_bytes()).ok
