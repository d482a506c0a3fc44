"""«Мои вопросы» and «Вопросы пациентов» paged in the database (more threads than a page,
on SQLite and PostgreSQL), and the doctor's answer pushed to the relative who asked on
the patient's behalf — unless their access was revoked meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from services.chat.service import MSG_SENT, PAGE_SIZE, ChatService
from services.core.access import CurrentUser
from storage.models import AuditEntry, OutboxMessage, RelativeGrant
from tests.chat.test_chat_dialogs import (
    ANSWER,
    SOKOLOVA_PHONE,
    account_id,
    sign_in_staff,
    staff_user,
)
from tests.support.bot import ANNA_PHONE, PETROV_PHONE, App
from tgsandbox import SandboxUser

MSK = ZoneInfo("Europe/Moscow")
NEW = 9  # with the demo's two: 11 threads, two pages of PAGE_SIZE (8)
DOCTOR = "Соколова М. А., терапевт"


def day(moment: datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y")


async def ask_many(app: App) -> list[str]:
    """Анна asks Соколова NEW questions, one a day; returns their days, the oldest first."""
    assert app.runtime is not None
    anna = CurrentUser(await account_id(app, ANNA_PHONE), 0, "Анна")
    _, staff = await staff_user(app, SOKOLOVA_PHONE)
    days = []
    for n in range(NEW):
        app.clock.advance(days=1)
        async with app.runtime.uow_factory() as uow:
            await ChatService(uow, app.runtime.ctx).ask(anna, staff, f"Вопрос номер {n + 1}")
            await uow.commit()
        days.append(day(app.clock.now()))
    return days


def lines(user: SandboxUser, prefix: str) -> list[str]:
    return [b for b in user.last.buttons if b.startswith(prefix)]


async def paging_through_the_screens(app: App) -> None:
    assert PAGE_SIZE == 8
    days = await ask_many(app)
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    await anna.press("Мои вопросы")
    assert "Страница 1 из 2" in anna.last.text, anna.last.text
    assert "‹" not in anna.last.buttons and "›" in anna.last.buttons
    # The latest activity first: the newest eight questions on the first page.
    first = lines(anna, DOCTOR)
    assert first == [f"{DOCTOR}, {d} — ждёт ответа" for d in reversed(days[1:])], first
    await anna.press("›")
    assert "Страница 2 из 2" in anna.last.text, anna.last.text
    assert "›" not in anna.last.buttons and "‹" in anna.last.buttons
    second = lines(anna, DOCTOR)
    assert len(second) == 3, second
    assert second[0] == f"{DOCTOR}, {days[0]} — ждёт ответа", second
    assert f"{DOCTOR}, 23.11.2026 — есть ответ" in second  # the demo's answered one
    # A thread of the second page opens, and «К списку вопросов» comes back to that page.
    await anna.press(second[0])
    assert "Вопрос номер 1" in anna.last.text, anna.last.text
    await anna.press("К списку вопросов")
    assert "Страница 2 из 2" in anna.last.text
    await anna.press("‹")
    assert "Страница 1 из 2" in anna.last.text and lines(anna, DOCTOR) == first

    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    await sokolova.press("Кабинет врача")
    await sokolova.press("Вопросы пациентов (10)")
    text = sokolova.last.text
    assert "Ждут ответа: 10." in text and "Страница 1 из 2" in text, text
    # Waiting first, the oldest first: the demo's question of 25.11, then one a day.
    first = lines(sokolova, "Иванова А. С.,")
    expected = ["25.11.2026", *days[:7]]
    unread = "ждёт ответа · новых: 1"
    assert first == [f"Иванова А. С., {d} — {unread}" for d in expected], first
    assert "‹" not in sokolova.last.buttons
    await sokolova.press("›")
    assert "Страница 2 из 2" in sokolova.last.text
    second = lines(sokolova, "Иванова А. С.,")
    assert second[:2] == [f"Иванова А. С., {d} — {unread}" for d in days[7:]], second
    assert len(second) == 3 and second[2].endswith("— есть ответ"), second
    assert "›" not in sokolova.last.buttons
    await sokolova.press("‹")
    assert lines(sokolova, "Иванова А. С.,") == first

    # Each page read is in the journal, with its number.
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action.in_(("chat.list", "chat.doctor.list")))
        rows = list((await uow.session.execute(stmt)).scalars())
    pages = {(r.action, (r.details or {}).get("page")) for r in rows}
    assert {("chat.list", 1), ("chat.list", 2), ("chat.doctor.list", 2)} <= pages, pages


async def test_the_lists_of_questions_are_paged(app: App) -> None:
    await paging_through_the_screens(app)


async def test_the_lists_of_questions_are_paged_on_postgresql(pg_app: App) -> None:
    await paging_through_the_screens(pg_app)


async def relative_asks(petrov: SandboxUser, question: str) -> None:
    await petrov.send("/menu")
    await petrov.press("Карты близких")
    await petrov.press("Вопросы врачу: Иванова А. С.")
    await petrov.press("Задать вопрос")
    await petrov.press(DOCTOR)
    await petrov.send(question)
    await petrov.press("Отправить без файла")
    assert petrov.last.text.endswith(MSG_SENT), petrov.last.text


async def doctor_answers(app: App, sokolova: SandboxUser, answer: str) -> None:
    await app.deliver_pushes()
    await sokolova.press("Открыть", message=sokolova.last)
    assert "Представитель пациента Петров С. И.:" in sokolova.last.text
    await sokolova.press("Ответить")
    await sokolova.send(answer)
    await sokolova.press("Отправить без файла")
    assert "Ответ отправлен пациенту." in sokolova.last.text


async def chat_pushes_to(app: App, account: int) -> list[OutboxMessage]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        stmt = select(OutboxMessage).where(
            OutboxMessage.account_id == account, OutboxMessage.kind == "chat.answer"
        )
        return list((await uow.session.execute(stmt)).scalars())


async def test_the_relative_who_asked_gets_the_answers_push_unless_revoked(app: App) -> None:
    assert app.runtime is not None
    anna_id = await account_id(app, ANNA_PHONE)
    petrov_id = await account_id(app, PETROV_PHONE)
    async with app.runtime.uow_factory() as uow:
        await uow.session.execute(
            update(RelativeGrant)
            .where(RelativeGrant.relative_account_id == petrov_id)
            .values(level="full")
        )
        await uow.commit()
    sokolova = app.user(user_id=3001, phone=SOKOLOVA_PHONE, name="Мария")
    await sign_in_staff(app, sokolova, SOKOLOVA_PHONE)
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    petrov = app.user(user_id=1002, phone=PETROV_PHONE, name="Сергей")
    await app.sign_in(petrov, login=PETROV_PHONE)

    await relative_asks(petrov, "Маме нужна справка для бассейна — можно ли её получить?")
    await doctor_answers(app, sokolova, ANSWER)
    await app.deliver_pushes()
    push = petrov.last
    assert push.text == (
        "Врач Соколова М. А. ответил(а) на вопрос, который вы задали "
        "по карте близкого (Иванова А. С.)."
    ), push.text
    assert push.buttons == ["Открыть"]
    assert ANSWER not in (push.text or "") and "справка" not in (push.text or "")
    (row,) = await chat_pushes_to(app, petrov_id)
    # The patient gets her own push as before.
    assert anna.last.text == "Врач Соколова М. А. ответил(а) на ваш вопрос."
    assert len(await chat_pushes_to(app, anna_id)) == 1

    # «Открыть» opens the thread on Анна's card, for the relative.
    await petrov.press("Открыть", message=push)
    text = petrov.last.text
    assert text.startswith("Карта: Иванова А. С. · полный доступ"), text
    assert ANSWER in text and "Маме нужна справка" in text, text
    assert "Написать ещё" in petrov.last.buttons

    # A second question; the access is revoked before the answer: no push to the relative.
    await relative_asks(petrov, "И ещё: нужна ли справка для школы?")
    async with app.runtime.uow_factory() as uow:
        await uow.session.execute(
            update(RelativeGrant)
            .where(RelativeGrant.relative_account_id == petrov_id)
            .values(status="revoked", revoked_at=app.clock.now())
        )
        await uow.commit()
    seen = len(petrov.bot_messages)
    await doctor_answers(app, sokolova, "Для школы справка не нужна.")
    await app.deliver_pushes()
    assert len(petrov.bot_messages) == seen, petrov.last.text
    assert [p.id for p in await chat_pushes_to(app, petrov_id)] == [row.id]
    assert len(await chat_pushes_to(app, anna_id)) == 2  # the patient still gets hers
    assert anna.last.text == "Врач Соколова М. А. ответил(а) на ваш вопрос."

    # The journal says whom the answer was pushed to (by the grant).
    async with app.runtime.uow_factory() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action == "chat.answer").order_by(AuditEntry.seq)
        answers = list((await uow.session.execute(stmt)).scalars())
        grant = (
            await uow.session.execute(
                select(RelativeGrant).where(RelativeGrant.relative_account_id == petrov_id)
            )
        ).scalar_one()
    assert [(a.details or {}).get("relatives_notified") for a in answers[-2:]] == [
        [grant.id],
        [],
    ]
