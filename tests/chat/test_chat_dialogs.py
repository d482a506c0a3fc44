"""The embedded chat through the screens: a patient asks, the doctor answers, pushes and
counters on both sides, a relative asking on the patient's behalf, forged thread ids
refused, and the journal rows of it all.

The demo has Анна's two questions to Соколова already: one answered, one waiting.
"""

from __future__ import annotations

from datetime import date

import pyotp
from sqlalchemy import select, update

from services.chat.demo import WAITING_QUESTION as WAITING
from services.chat.service import MSG_SENT, ChatService
from services.clinic.demo import demo_totp_secret
from services.core.access import CurrentUser, DoctorPrincipal, Permission, authorize
from services.core.errors import AccessDenied
from storage.models import AuditEntry, ChatMessage, ChatThread, MedicalRecord, RelativeGrant
from tests.support.bot import ANNA_PHONE, PASSWORD, PETROV_PHONE, App, png_bytes
from tgsandbox import SandboxUser

SOKOLOVA_PHONE = "+79990000101"
BELOV_PHONE = "+79990000102"
QUESTION = "Третий день болит горло, температура 37,5. Что можно принимать?"
ANSWER = "Полощите горло тёплым раствором соли, пейте больше. Если температура выше 38 — звоните."


def code_of(app: App, phone: str) -> str:
    return pyotp.TOTP(demo_totp_secret(phone)).at(app.clock.now())


async def sign_in_staff(app: App, user: SandboxUser, phone: str) -> None:
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(phone)
    await user.send(PASSWORD)
    if user.current_reply_keyboard():
        await user.press("Поделиться номером")
    await user.send(code_of(app, phone))
    assert "Главное меню" in user.last.text, user.last.text


async def account_id(app: App, phone: str) -> int:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None
        return account.id


async def staff_user(app: App, phone: str) -> tuple[CurrentUser, int]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None
        (row,) = await uow.clinic.staff.of_account(account.id)
        return CurrentUser(account.id, 0, account.first_name), row.id


async def audit_rows(app: App, prefix: str) -> list[AuditEntry]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        stmt = (
            select(AuditEntry).where(AuditEntry.action.like(f"{prefix}%")).order_by(AuditEntry.seq)
        )
        return list((await uow.session.execute(stmt)).scalars())


async def threads_of(app: App, patient: int) -> list[ChatThread]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        stmt = (
            select(ChatThread)
            .where(ChatThread.patient_account_id == patient)
            .order_by(ChatThread.id)
        )
        return list((await uow.session.execute(stmt)).scalars())


async def ask(user: SandboxUser, question: str = QUESTION) -> None:
    """From the menu: «Спросить врача» → Соколова → the question → no file."""
    await user.press("Спросить врача")
    assert "Выберите врача, которому хотите задать вопрос." in user.last.text, user.last.text
    await user.press("Соколова М. А., терапевт")
    assert "Напишите вопрос одним сообщением" in user.last.text
    await user.send(question)
    assert "Приложить файл к вопросу?" in user.last.text
    await user.press("Отправить без файла")
    assert user.last.text.endswith(MSG_SENT), user.last.text


async def test_the_chat_from_both_sides_with_pushes_and_counters(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    assert "Спросить врача" in anna.last.buttons
    assert "Мои вопросы" in anna.last.buttons  # the demo's answer is read already

    await anna.press("Спросить врача")
    await anna.press("Соколова М. А., терапевт")
    await anna.send("х" * 2001)
    assert "Сообщение слишком длинное" in anna.last.text  # asked again, in the same window
    await anna.send(QUESTION)
    await anna.press("Отправить без файла")
    assert anna.last.text.endswith(MSG_SENT)

    # The doctor's push for the new question, with «Открыть».
    await app.deliver_pushes()
    push = sokolova.last
    assert push.text == "Новый вопрос пациента в разделе «Вопросы пациентов»."
    assert push.buttons == ["Открыть"]
    assert QUESTION not in (push.text or "")  # a push carries no medical data

    await sokolova.send("/menu")
    await sokolova.press("Кабинет врача")
    assert "Вопросы пациентов (2)" in sokolova.last.buttons, sokolova.last.buttons
    await sokolova.press("Вопросы пациентов (2)")
    text = sokolova.last.text
    assert "Ждут ответа: 2. Сначала — те, что ждут дольше." in text, text
    # Oldest first: the demo's question of yesterday, then today's; the answered one last.
    waiting = [b for b in sokolova.last.buttons if "ждёт ответа" in b]
    assert len(waiting) == 2
    assert waiting[0].startswith("Иванова А. С., 25.11.2026"), waiting
    assert waiting[1].startswith("Иванова А. С., 26.11.2026"), waiting
    assert any("есть ответ" in b for b in sokolova.last.buttons)

    await sokolova.press(waiting[1])
    text = sokolova.last.text
    assert "Пациент: Иванова А. С." in text
    assert "Состояние: ждёт ответа" in text
    assert f"Пациент:\n{QUESTION}" in text, text
    assert {"Ответить", "Открыть карту", "Закрыть вопрос"} <= set(sokolova.last.buttons)
    await sokolova.press("Ответить")
    await sokolova.send(ANSWER)
    await sokolova.press("Отправить без файла")
    assert "Ответ отправлен пациенту." in sokolova.last.text
    assert "Состояние: есть ответ" in sokolova.last.text
    assert f"Врач:\n{ANSWER}" in sokolova.last.text

    # The patient's push for the answer; «Мои вопросы (1)» until it is read.
    await app.deliver_pushes()
    push = anna.last
    assert push.text == "Врач Соколова М. А. ответил(а) на ваш вопрос."
    assert push.buttons == ["Открыть"]
    await anna.send("/menu")
    assert "Мои вопросы (1)" in anna.last.buttons, anna.last.buttons
    await anna.press("Открыть", message=push)
    text = anna.last.text
    assert "Врач: Соколова М. А., терапевт" in text
    assert "Состояние: есть ответ" in text
    assert f"Вы:\n{QUESTION}" in text
    assert f"Врач Соколова М. А., терапевт:\n{ANSWER}" in text
    await anna.send("/menu")
    assert "Мои вопросы" in anna.last.buttons
    assert "Мои вопросы (1)" not in anna.last.buttons

    # «Мои вопросы»: the state of each thread, the latest activity first.
    await anna.press("Мои вопросы")
    assert anna.last.buttons[:3] == [
        "Соколова М. А., терапевт, 26.11.2026 — есть ответ",
        "Соколова М. А., терапевт, 25.11.2026 — ждёт ответа",
        "Соколова М. А., терапевт, 23.11.2026 — есть ответ",
    ], anna.last.buttons

    # The patient writes again: the thread waits for the doctor again.
    thread = (await threads_of(app, await account_id(app, ANNA_PHONE)))[-1]
    await anna.press("26.11.2026 — есть ответ")
    assert QUESTION in anna.last.text
    await anna.press("Написать ещё")
    await anna.send("Спасибо! А полоскать можно ромашкой?")
    await anna.press("Отправить без файла")
    assert "Состояние: ждёт ответа" in anna.last.text
    await app.deliver_pushes()
    assert sokolova.last.text == "Пациент написал в переписку по своему вопросу."

    # The doctor closes it: the patient can no longer write into it.
    await sokolova.press("Открыть", message=sokolova.last)
    assert "Спасибо! А полоскать можно ромашкой?" in sokolova.last.text
    await sokolova.press("Закрыть вопрос")
    assert "Вопрос закрыт." in sokolova.last.text
    assert "Ответить" not in sokolova.last.buttons
    await anna.send("/menu")
    await anna.press("Мои вопросы")
    assert "Соколова М. А., терапевт, 26.11.2026 — закрыт" in anna.last.text
    await anna.press("26.11.2026 — закрыт")
    assert "Врач закрыл вопрос" in anna.last.text
    assert "Написать ещё" not in anna.last.buttons
    rows = await threads_of(app, await account_id(app, ANNA_PHONE))
    assert [r.status for r in rows if r.id == thread.id] == ["closed"]

    # The journal: each read and write, with the permission and the basis; no text in it.
    actions = [(r.action, r.outcome, r.permission, r.basis) for r in await audit_rows(app, "chat.")]
    assert ("chat.ask", "ok", "doctor.message", "self") in actions
    assert ("chat.doctor.view", "ok", "doctor.questions", "doctor_question") in actions
    assert ("chat.answer", "ok", "doctor.questions", "doctor_question") in actions
    assert ("chat.view", "ok", "doctor.message", "self") in actions
    assert ("chat.write", "ok", "doctor.message", "self") in actions
    assert ("chat.close", "ok", "doctor.questions", "doctor_question") in actions
    for row in await audit_rows(app, "chat."):
        assert QUESTION not in str(row.details) and ANSWER not in str(row.details)

    # And the patient reads it in «Журнал действий».
    await anna.send("/menu")
    await anna.press("Журнал действий")
    journal = anna.last.text
    assert "Вы написали врачу" in journal, journal
    assert "Врач Соколова М. А. прочитала ваш вопрос" in journal, journal
    assert "Врач Соколова М. А. закрыла ваш вопрос" in journal, journal


async def test_a_question_about_a_result_with_a_file(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await anna.press("Моя медкарта")
    await anna.press("Результаты анализов")
    await anna.press("1. 16.11.2026 Глюкоза")
    await anna.press("Спросить врача")
    text = anna.last.text
    assert "К вопросу: Результат анализа: Глюкоза" in text, text
    await anna.press("Соколова М. А., терапевт")
    await anna.send("Нужно ли пересдать анализ?")
    await anna.send_document(b"not a picture", "scan.png", "image/png")
    assert "⚠️" in anna.last.text  # refused by the usual file checks, asked again
    await anna.send_document(png_bytes(), "scan.png", "image/png")
    assert anna.last.text.endswith(MSG_SENT), anna.last.text

    await app.deliver_pushes()
    await sokolova.press("Открыть", message=sokolova.last)
    text = sokolova.last.text
    assert "К вопросу: Результат анализа: Глюкоза" in text, text
    assert "📎 scan.png" in text
    await sokolova.press("📎 scan.png")
    sent = sokolova.bot_messages[-2]
    assert sent.document is not None and sent.document.name == "scan.png"
    assert sent.raw.get("has_protected_content") is True

    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        (message,) = (
            await uow.session.execute(
                select(ChatMessage).where(ChatMessage.text == "Нужно ли пересдать анализ?")
            )
        ).scalars()
        assert message.storage_key is not None and message.size and message.sha256
    assert any(r.action == "chat.file" for r in await audit_rows(app, "chat.file"))


async def test_a_relative_with_full_access_asks_on_the_patients_behalf(app: App) -> None:
    assert app.runtime is not None
    anna_id = await account_id(app, ANNA_PHONE)
    petrov_id = await account_id(app, PETROV_PHONE)
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    petrov = app.user(user_id=1002, phone=PETROV_PHONE, name="Сергей")
    await app.sign_in(petrov, login=PETROV_PHONE)

    # «просмотр и скачивание» (the demo's level): no questions, and the service refuses.
    await petrov.press("Карты близких")
    assert not any(b.startswith("Вопросы врачу") for b in petrov.last.buttons)
    async with app.runtime.uow_factory() as uow:
        as_relative = CurrentUser(petrov_id, 0, "Сергей", acting_for=anna_id)
        try:
            await ChatService(uow, app.runtime.ctx).threads(as_relative)
        except AccessDenied as exc:
            assert "только с полным доступом" in exc.message
        else:
            raise AssertionError("a relative without full access read the questions")
        await uow.commit()

    async with app.runtime.uow_factory() as uow:
        await uow.session.execute(
            update(RelativeGrant)
            .where(RelativeGrant.relative_account_id == petrov_id)
            .values(level="full")
        )
        await uow.commit()
    await petrov.send("/menu")
    await petrov.press("Карты близких")
    await petrov.press("Вопросы врачу: Иванова А. С.")
    text = petrov.last.text
    assert text.startswith("Карта: Иванова А. С. · полный доступ"), text
    assert "Соколова М. А., терапевт, 23.11.2026 — есть ответ" in text  # Анна's questions
    await petrov.press("Задать вопрос")
    await petrov.press("Соколова М. А., терапевт")
    await petrov.send("Маме нужна справка для бассейна — можно ли её получить?")
    await petrov.press("Отправить без файла")
    assert petrov.last.text.endswith(MSG_SENT)

    await app.deliver_pushes()
    await sokolova.press("Открыть", message=sokolova.last)
    text = sokolova.last.text
    assert "Пациент: Иванова А. С." in text
    assert "Представитель пациента Петров С. И.:" in text, text

    rows = [r for r in await audit_rows(app, "chat.ask") if r.outcome == "ok"]
    last = rows[-1]
    assert last.actor == f"account:{petrov_id}"
    assert last.subject_account_id == anna_id
    assert (last.permission, last.basis) == ("doctor.message", "relative_grant")

    # Анна reads in her journal that the relative asked for her.
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await anna.press("Журнал действий")
    assert "Петров С. И. (доступ «полный доступ») задал вопрос врачу от вашего имени" in (
        anna.last.text
    ), anna.last.text


async def test_forged_thread_ids_are_refused_and_journaled(app: App) -> None:
    assert app.runtime is not None
    anna_id = await account_id(app, ANNA_PHONE)
    petrov_id = await account_id(app, PETROV_PHONE)
    anna_thread = (await threads_of(app, anna_id))[0].id
    belov, belov_staff = await staff_user(app, BELOV_PHONE)
    sokolova, sokolova_staff = await staff_user(app, SOKOLOVA_PHONE)

    async with app.runtime.uow_factory() as uow:
        service = ChatService(uow, app.runtime.ctx)
        # Another patient's thread, asked for on one's own card.
        for call in (
            service.thread(CurrentUser(petrov_id, 0, "Сергей"), anna_thread),
            service.write(CurrentUser(petrov_id, 0, "Сергей"), anna_thread, "Здравствуйте"),
            # A thread addressed to another doctor.
            service.doctor_thread(belov, belov_staff, anna_thread),
            service.answer(belov, belov_staff, anna_thread, "Ответ"),
            # A staff row that is not the signed-in person's.
            service.doctor_thread(belov, sokolova_staff, anna_thread),
        ):
            try:
                await call
            except AccessDenied as exc:
                assert exc.message in (
                    "Такого вопроса нет.",
                    "Вы не числитесь сотрудником этой медицинской организации.",
                )
            else:
                raise AssertionError("a forged thread id was honoured")
        await uow.commit()
    denied = [
        (r.action, r.details.get("denied"))
        for r in await audit_rows(app, "chat.")
        if r.outcome == "denied"
    ]
    assert denied == [
        ("chat.view", "no_thread"),
        ("chat.write", "no_thread"),
        ("chat.doctor.view", "no_thread"),
        ("chat.answer", "no_thread"),
        ("chat.doctor.view", "staff_unknown"),
    ], denied
    # Nothing was written into Анна's thread.
    async with app.runtime.uow_factory() as uow:
        messages = await uow.chat.threads.messages(anna_thread)
        assert all(m.text not in ("Здравствуйте", "Ответ") for m in messages)
    # The access rule itself: the doctor's questions permission is the addressee's only.
    async with app.runtime.uow_factory() as uow:
        staff = await uow.clinic.staff.get(belov_staff)
        assert staff is not None
        decision = await authorize(
            uow,
            app.runtime.ctx,
            DoctorPrincipal(staff.id, staff.account_id, staff.organisation_id),
            anna_id,
            Permission.ANSWER_QUESTIONS,
        )
        assert not decision.allowed and decision.code == "no_question"
        staff = await uow.clinic.staff.get(sokolova_staff)
        assert staff is not None
        decision = await authorize(
            uow,
            app.runtime.ctx,
            DoctorPrincipal(staff.id, staff.account_id, staff.organisation_id),
            anna_id,
            Permission.ANSWER_QUESTIONS,
        )
        assert decision.allowed
    assert sokolova.account_id != belov.account_id


async def test_the_demo_questions_are_seeded_once(app: App) -> None:
    anna_id = await account_id(app, ANNA_PHONE)
    before = await threads_of(app, anna_id)
    assert [t.status for t in before] == ["answered", "waiting"]
    assert before[0].origin == "lab_result" and before[0].origin_label
    await app.seed()
    assert [t.id for t in await threads_of(app, anna_id)] == [t.id for t in before]


async def test_a_question_and_its_answer_on_postgresql(pg_app: App) -> None:
    app = pg_app
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await ask(anna)
    await app.deliver_pushes()
    await sokolova.press("Открыть", message=sokolova.last)
    assert QUESTION in sokolova.last.text
    await sokolova.press("Ответить")
    await sokolova.send(ANSWER)
    await sokolova.press("Отправить без файла")
    await app.deliver_pushes()
    assert anna.last.text == "Врач Соколова М. А. ответил(а) на ваш вопрос."
    await anna.send("/menu")
    assert "Мои вопросы (1)" in anna.last.buttons
    await anna.press("Открыть", message=anna.bot_messages[-2])
    assert ANSWER in anna.last.text
    await anna.send("/menu")
    assert "Мои вопросы (1)" not in anna.last.buttons


async def test_open_card_from_a_question_takes_the_step_up(app: App) -> None:
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    await sokolova.press("Кабинет врача")
    await sokolova.press("Вопросы пациентов (1)")
    await sokolova.press("ждёт ответа")
    assert WAITING in sokolova.last.text
    await sokolova.press("Открыть карту")
    assert "Карта пациента: Иванова А. С." in sokolova.last.text, sokolova.last.text
    assert "Выберите цель доступа" in sokolova.last.text
    await sokolova.press("консультация")
    app.clock.advance(seconds=30)  # the sign-in's code is not taken twice
    await sokolova.send(code_of(app, SOKOLOVA_PHONE))
    assert sokolova.last.text.startswith("Пациент: Иванова А. С. · консультация"), (
        sokolova.last.text
    )
    opened = [r for r in await audit_rows(app, "doctor.card.open") if r.outcome == "ok"]
    assert opened and opened[-1].details.get("purpose") == "консультация"


async def test_a_question_about_a_visit(app: App) -> None:
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await anna.press("Мои записи")
    await anna.press("офтальмолог Ким Е. В.")
    await anna.press("Спросить врача")
    text = anna.last.text
    assert "К вопросу: Приём 30.11.2026 10:00" in text, text
    # Ким does not answer in the bot: the therapist is offered.
    assert [b for b in anna.last.buttons if b != "Отмена"] == ["Соколова М. А., терапевт"]
    await anna.press("Соколова М. А., терапевт")
    await anna.send("Нужно ли отменять капли перед осмотром?")
    await anna.press("Отправить без файла")
    assert anna.last.text.endswith(MSG_SENT)
    thread = (await threads_of(app, await account_id(app, ANNA_PHONE)))[-1]
    assert (thread.origin, thread.origin_label) == ("visit", "Приём 30.11.2026 10:00")


async def test_a_patient_who_asked_is_the_doctors_though_not_attached(app: App) -> None:
    """Смирнова is not attached to the polyclinic; once she has asked Соколова a question,
    Соколова finds her in «Пациенты» and opens her card with the step-up."""
    assert app.runtime is not None
    smirnova_id = await account_id(app, "+79990000003")
    _user, staff_id = await staff_user(app, SOKOLOVA_PHONE)
    async with app.runtime.uow_factory() as uow:
        now = app.clock.now()
        await uow.record.records.add(
            MedicalRecord(
                account_id=smirnova_id,
                application_id=None,
                last_name="Смирнова",
                first_name="Ольга",
                middle_name="Петровна",
                birth_date=date(1980, 1, 2),
                sex="female",
                snils="20345678149",
                policy_number="5098231456702318",
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    await sokolova.press("Кабинет врача")
    await sokolova.press("Пациенты")
    await sokolova.send("смирнова")
    assert "Никого не нашлось" in sokolova.last.text

    async with app.runtime.uow_factory() as uow:
        await uow.chat.threads.add_thread(
            ChatThread(
                patient_account_id=smirnova_id,
                staff_id=staff_id,
                origin="general",
                status="waiting",
                waiting_since=now,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    await sokolova.send("смирнова")
    assert "Найдено: 1." in sokolova.last.text, sokolova.last.text
    await sokolova.press("Смирнова Ольга Петровна")
    await sokolova.press("консультация")
    app.clock.advance(seconds=30)
    await sokolova.send(code_of(app, SOKOLOVA_PHONE))
    assert sokolova.last.text.startswith("Пациент: Смирнова О. П. · консультация"), (
        sokolova.last.text
    )
