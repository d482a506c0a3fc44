"""«Журнал действий» and «История входов» as a person sees them, read from the audit journal."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select, text

from services.core import audit
from storage.models import LoginEvent
from tests.support.bot import ANNA_PHONE, PASSWORD, App

# «Журнал действий»: «… открыл результаты анализов — 12.12.2026 10:14».
LINE = re.compile(r"^(.+) — \d\d\.\d\d\.\d{4} \d\d:\d\d$", re.M)
# «История входов»: «26.11.2026 12:00 — успешный вход».
HISTORY_LINE = re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d — (.+)$", re.M)


def lines(text_: str) -> list[str]:
    return LINE.findall(text_)


def history_lines(text_: str) -> list[str]:
    return HISTORY_LINE.findall(text_)


async def sign_in_after_a_wrong_password(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.send(ANNA_PHONE)
    await anna.send("Wrong-Passw0rd")
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    await anna.send(app.last_sms_code())
    assert "Главное меню" in anna.last.text


async def test_anna_reads_her_journal_newest_first_without_personal_data(app: App) -> None:
    await sign_in_after_a_wrong_password(app)
    anna = app.user()
    await anna.press("Журнал действий")
    text_ = anna.last.text
    assert text_.startswith("Журнал действий")
    shown = lines(text_)
    assert shown[0] == "Выполнен вход в учётную запись"
    assert "Неверный пароль при входе" in shown
    assert shown.index("Выполнен вход в учётную запись") < shown.index("Неверный пароль при входе")
    assert "Неверный пароль при входе — 26.11.2026 12:00" in text_
    for personal in (ANNA_PHONE, "Анна", "Иванова", "anna@", "11223344595", "+7"):
        assert personal not in text_.split("\n", 1)[1]
    assert anna.last.buttons == ["В меню"]
    await anna.press("В меню")
    assert "Главное меню" in anna.last.text
    # Opening the journal is journaled, and shows the next time.
    await anna.press("Журнал действий")
    assert lines(anna.last.text)[0] == "Вы открыли журнал действий"


async def test_anna_turns_the_pages_of_her_journal(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    for _ in range(12):
        await anna.press("История входов")
        await anna.press("Назад")
    await anna.press("Журнал действий")
    first = anna.last.text
    page_one = lines(first)
    assert len(page_one) == 10
    assert page_one[0] == "Вы открыли историю входов"
    match = re.search(r"Страница 1 из (\d+)", first)
    assert match is not None
    pages = int(match.group(1))
    assert pages >= 2
    assert anna.last.buttons == ["Дальше", "В меню"]

    await anna.press("Дальше")
    second = anna.last.text
    assert f"Страница 2 из {pages}" in second
    assert lines(second) != page_one
    assert anna.last.buttons[0] == "Назад"
    for _ in range(pages - 2):
        await anna.press("Дальше")
    assert "Дальше" not in anna.last.buttons
    assert lines(anna.last.text)[-1] == "Учётная запись создана"

    for _ in range(pages - 1):
        await anna.press("Назад")
    # The pages stay as they were when the journal was opened.
    assert lines(anna.last.text) == page_one
    assert f"Страница 1 из {pages}" in anna.last.text
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        viewed = [e.details["page"] for e in await uow.core.audit.all("journal.view")]
    assert viewed == [1, 2, *range(3, pages + 1), *range(pages - 1, 0, -1)]


async def test_history_survives_an_attacker_deleting_login_events(app: App) -> None:
    await sign_in_after_a_wrong_password(app)
    anna = app.user()
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        await uow.session.execute(delete(LoginEvent))
        await uow.commit()
        assert await uow.session.scalar(select(func.count()).select_from(LoginEvent)) == 0
    await anna.press("История входов")
    shown = history_lines(anna.last.text)
    assert shown == ["успешный вход", "неверный пароль"]


async def test_history_after_an_attacker_deletes_an_audit_row_and_verify_names_it(
    app: App,
) -> None:
    await sign_in_after_a_wrong_password(app)
    anna = app.user()
    assert app.runtime is not None
    ctx = app.runtime.ctx
    async with app.runtime.uow_factory() as uow:
        (wrong,) = [e for e in await uow.core.audit.all("sign_in.password") if e.outcome != "ok"]
        seq = wrong.seq
        # The attacker has the database's credentials and drops the trigger first.
        await uow.session.execute(text("DROP TRIGGER audit_log_no_delete"))
        await uow.session.execute(text(f"DELETE FROM audit_log WHERE seq = {seq}"))
        await uow.commit()
    await anna.press("История входов")
    assert history_lines(anna.last.text) == ["успешный вход"]
    async with app.runtime.uow_factory() as uow:
        report = await audit.verify(uow, ctx)
    assert report.problem is not None
    assert report.problem.startswith(f"row #{seq} missing"), report.problem


async def test_history_names_an_unknown_sign_in_outcome_generically(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_login("phone", ANNA_PHONE)
        assert account is not None
        await audit.record(
            uow,
            app.runtime.ctx,
            actor="telegram:1",
            action="sign_in.something_new",
            outcome="refused_for_a_new_reason",
            subject_account_id=account.id,
        )
        await uow.commit()
    await anna.press("История входов")
    assert history_lines(anna.last.text)[:2] == ["попытка входа", "успешный вход"]
    await anna.press("Назад")
    await anna.press("Журнал действий")
    assert "Попытка входа" in lines(anna.last.text)
