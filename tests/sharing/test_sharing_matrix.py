"""What a relative may do with Анна's card, level by level, through the screens.

Анна invites Сидоров П. О. at a level (tests/sharing/test_sharing_dialogs.py `invite`),
he accepts by the link and works with her card: the record's sections and results at
every level; files and extracts from «просмотр и скачивание»; booking, moving and
cancelling her visits with «полный доступ». Every window inside the card carries
«Карта: Иванова А. С. · <уровень>», and a button the level hides is refused when its
callback is forged. Then: sensitive results, an expired grant, a grant revoked in the
middle of a session, the abused links, a relative with an account of his own, the
pushes to both sides and Анна's «Журнал действий».
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.core.access import LEVEL_REASONS, CurrentUser, Permission
from services.core.work import UseCases
from services.record.labs import LabResultsService
from tests.sharing.test_sharing_dialogs import (
    RELATIVE_PHONE,
    RELATIVE_SHORT,
    accept,
    invite,
)
from tests.support.bot import ANNA_PHONE, PETROV_PHONE, SMIRNOVA_PHONE, App
from tgsandbox import SandboxUser

VIEW = "только просмотр"
DOWNLOAD = "просмотр и скачивание"
FULL = "полный доступ"
LEVELS = [VIEW, DOWNLOAD, FULL]
RELATIVE_TG = 2007
SECTIONS = [
    "Диагнозы",
    "Лекарства",
    "Прививки",
    "Госпитализации",
    "Обследования и процедуры",
    "Скрининги и диспансеризация",
    "Посещения врачей",
    "Документы владельца карты",
]
GLUCOSE = re.compile(r"1\. 16\.11\.2026 Глюкоза")
SUMMARY_BUTTON = "11.06.2025 · Выписной эпикриз: Выписной эпикриз"
NO_DOWNLOAD = LEVEL_REASONS[Permission.DOWNLOAD]
NO_VISITS = LEVEL_REASONS[Permission.MANAGE_VISITS]
REVOKED = "Доступ к карте Иванова А. С. отозван."
JOURNAL_NEXT = "Дальше"


def header(level: str) -> str:
    return f"Карта: Иванова А. С. · {level}\n\n"


def on_card(person: SandboxUser, level: str, title: str = "") -> None:
    """The window is inside Анна's card: its first line, then `title`."""
    text = person.last.text or ""
    assert text.startswith(header(level) + title), text


async def forge(person: SandboxUser, widget: str) -> None:
    """Press a button the window does not show: its widget id in the callback data."""
    stored = person.sandbox.chats[person.id].messages[person.last.message_id]
    assert stored.inline_markup is not None
    data = stored.inline_markup["inline_keyboard"][0][0]["callback_data"]
    intent, _, _ = data.partition("\x1d")
    await person.sandbox.press_callback(person.id, stored.message_id, f"{intent}\x1d{widget}")


async def relative_on(app: App, level: str, *, sensitive: bool = False) -> tuple[Any, Any]:
    """Анна (signed in) and Сидоров, who has just accepted her invitation at `level`."""
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    payload = await invite(app, anna, level=level, sensitive=sensitive)
    relative = app.user(user_id=RELATIVE_TG, phone=RELATIVE_PHONE, name="Павел")
    await accept(app, relative, payload)
    return anna, relative


async def anna_principal(app: App) -> CurrentUser:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_any(ANNA_PHONE, None)
        assert account is not None
        return CurrentUser(account_id=account.id, session_id=0, display_name="")


async def annas_journal(anna: Any) -> str:
    """Every page of Анна's «Журнал действий», newest first."""
    await anna.send("/menu")
    await anna.press("Журнал действий")
    pages = [str(anna.last.text)]
    while JOURNAL_NEXT in anna.last.buttons and len(pages) < 10:
        await anna.press(JOURNAL_NEXT)
        pages.append(str(anna.last.text))
    return "\n".join(pages)


async def revoke(app: App, anna: Any) -> None:
    await anna.send("/menu")
    await anna.press("Доступ для близких")
    await anna.press(f"{RELATIVE_SHORT} — действует до 31.12.2027")
    await anna.press("Отозвать")
    await anna.press("Отозвать доступ")
    await anna.send(app.last_sms_code())
    assert "Состояние: отозван" in anna.last.text, anna.last.text


# -- the matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
async def test_sections_and_results_at_every_level(app: App, level: str) -> None:
    _anna, relative = await relative_on(app, level)
    await relative.press("Открыть карту")
    on_card(relative, level, "Медкарта\n\nВыберите раздел.")
    assert relative.last.buttons[: len(SECTIONS)] == SECTIONS
    assert "Личные данные и полисы" not in relative.last.buttons
    for section in SECTIONS:
        await relative.press(section)
        on_card(relative, level, section)
        await relative.press("К разделам")
    await relative.press("Диагнозы")
    await relative.press("K29.5")
    on_card(relative, level, "Диагноз")
    assert "Статус: активен" in relative.last.text
    await relative.press("К списку")
    await relative.press("К разделам")

    # The owner's own: personal data and adding documents, refused when forged.
    await forge(relative, "profile")
    assert "Личные данные и полисы владельца карты этот доступ не показывает." in relative.last.text
    assert "СНИЛС" not in relative.last.text
    on_card(relative, level, "Личные данные и полисы")
    await relative.press("К разделам")
    await relative.press("Документы владельца карты")
    assert "В этой медкарте пока нет записей" in relative.last.text
    assert "Добавить документ" not in relative.last.buttons
    await forge(relative, "add")
    assert "Добавлять документы в медкарту может только её владелец." in relative.last.text
    on_card(relative, level, "Документы владельца карты")
    await relative.press("К разделам")

    await relative.press("Результаты анализов")
    on_card(relative, level, "Результаты анализов")
    await relative.press(GLUCOSE)
    on_card(relative, level, "Глюкоза")
    assert "• Глюкоза: 6,4 ммоль/л ↑ (норма 3,9–6,1)" in relative.last.text
    await relative.press("Динамика: Глюкоза")
    assert relative.bot_messages[-2].photo is not None
    on_card(relative, level, "Глюкоза")
    await relative.press("К списку результатов")
    on_card(relative, level, "Результаты анализов")


@pytest.mark.parametrize(("level", "allowed"), [(VIEW, False), (DOWNLOAD, True), (FULL, True)])
async def test_files_and_extracts_from_view_and_download(
    app: App, level: str, allowed: bool
) -> None:
    _anna, relative = await relative_on(app, level)
    await relative.press("Открыть карту")
    assert ("Выписки и заключения" in relative.last.buttons) is allowed
    await relative.press("Госпитализации")
    await relative.press("Обострение")
    on_card(relative, level, "Госпитализация")
    assert ("Скачать выписной эпикриз" in relative.last.buttons) is allowed
    if allowed:
        await relative.press("Скачать выписной эпикриз")
        sent = relative.bot_messages[-2]
        assert sent.document is not None and sent.document.name.endswith(".pdf")
        assert sent.raw.get("has_protected_content") is True
    else:
        await forge(relative, "download")
        assert NO_DOWNLOAD in relative.last.text
    on_card(relative, level, "Госпитализация")
    await relative.press("К списку")
    await relative.press("К разделам")

    await relative.press("Результаты анализов")
    await relative.press(GLUCOSE)
    assert ("Скачать файл" in relative.last.buttons) is allowed
    if allowed:
        await relative.press("Скачать файл")
        sent = relative.bot_messages[-2]
        assert sent.document is not None and sent.document.data.startswith(b"%PDF")
    else:
        await forge(relative, "download")
        assert NO_DOWNLOAD in relative.last.text
    on_card(relative, level, "Глюкоза")
    await relative.press("К списку результатов")
    await relative.press("Назад")
    on_card(relative, level, "Медкарта")

    if not allowed:
        await forge(relative, "extracts")
        on_card(relative, level, "Медкарта")
        assert NO_DOWNLOAD in relative.last.text
        assert not [f for f in relative.files_received() if f.name.endswith(".pdf")]
        return
    await relative.press("Выписки и заключения")
    on_card(relative, level, "Выписки и заключения")
    await relative.press(SUMMARY_BUTTON)
    on_card(relative, level, "Выписной эпикриз")
    await relative.press("Скачать файл")
    assert relative.bot_messages[-2].document is not None
    await relative.press("К выпискам")
    await relative.press("Запросить выписку")
    on_card(relative, level, "Запросить выписку")
    await relative.press("Сводка результатов анализов")
    await relative.press("За последний год")
    on_card(relative, level, "Проверьте запрос")
    await relative.press("Запросить")
    extract = relative.bot_messages[-2]
    assert extract.document is not None and extract.document.data.startswith(b"%PDF")
    on_card(relative, level, "Выписка готова")


@pytest.mark.parametrize("level", [VIEW, DOWNLOAD])
async def test_visits_are_refused_below_full_access(app: App, level: str) -> None:
    _anna, relative = await relative_on(app, level)
    await relative.press("Карты близких")
    assert relative.last.buttons[0] == "Карта: Иванова А. С."
    assert not [b for b in relative.last.buttons if "к врачу" in b or "Записи" in b]
    anna = await anna_principal(app)
    for widget in ("book", "visits"):
        await forge(relative, f"{widget}:{anna.account_id}")
        assert NO_VISITS in relative.last.text, relative.last.text
        assert relative.last.text.startswith("Карты близких")
    # Viewing stays: the card itself opens.
    await relative.press("Карта: Иванова А. С.")
    on_card(relative, level, "Медкарта")


async def test_full_access_books_moves_and_cancels_annas_visit(app: App) -> None:
    anna, relative = await relative_on(app, FULL)
    await relative.press("Карты близких")
    await relative.press("Записать к врачу: Иванова А. С.")
    on_card(relative, FULL, "Записаться к врачу")
    await relative.press("Терапевт")
    on_card(relative, FULL, "Выберите врача — терапевт.")
    await relative.press("Соколова Мария Андреевна, каб. 105")
    on_card(relative, FULL, "Запись к врачу: терапевт Соколова М. А.")
    await relative.press("27")
    on_card(relative, FULL, "Свободное время на 27 ноября 2026 (пт)")
    await relative.press("09:00")
    on_card(relative, FULL, "Проверьте запись")
    await relative.press("Записаться")
    on_card(relative, FULL, "✅ Запись на приём оформлена")
    assert "Дата и время: 27 ноября 2026 (пт) в 09:00" in relative.last.text
    assert "напоминания о приёме придут ему" in relative.last.text

    # The visit is Анна's: in her «Мои записи», booked by the relative, and she is told.
    assert app.runtime is not None
    user = await anna_principal(app)
    async with app.runtime.uow_factory() as uow:
        visits = await uow.booking.visits.upcoming(user.account_id, app.clock.now())
        booked = [v for v in visits if v.specialty_code == "therapist"]
        assert [v.booked_by for v in booked] == [f"relative:{RELATIVE_TG}"]
    await app.deliver_pushes()
    assert any(
        (m.text or "").startswith("Вы записаны на приём: терапевт Соколова М. А., 27 ноября")
        for m in anna.bot_messages
    )

    await relative.press("Записи на приём")
    on_card(relative, FULL, "Записи на приём")
    await relative.press("27 ноября (пт) 09:00 · терапевт Соколова М. А.")
    on_card(relative, FULL, "Запись на приём")
    await relative.press("Перенести")
    on_card(relative, FULL, "Перенос записи")
    await relative.press("30")
    times = [b for b in relative.last.buttons if re.fullmatch(r"\d\d:\d\d", b)]
    await relative.press(times[0])
    on_card(relative, FULL, "Перенести запись?")
    await relative.press("Перенести")
    on_card(relative, FULL, "✅ Запись перенесена")
    await relative.press("Записи на приём")
    moved = next(b for b in relative.last.buttons if "терапевт" in b)
    assert moved.startswith("30 ноября")
    await relative.press(moved)
    await relative.press("Отменить")
    on_card(relative, FULL, "Отменить запись?")
    await relative.press("Да, отменить")
    on_card(relative, FULL, "Запись отменена")
    await relative.press("В меню")
    assert relative.last.text.startswith("Карты близких")

    journal = await annas_journal(anna)
    who = f"{RELATIVE_SHORT} (доступ «полный доступ»)"
    for line in ("записал вас на приём", "перенес ваш приём", "отменил ваш приём"):
        assert f"{who} {line}" in journal, journal


# -- sensitive results --------------------------------------------------------------------


@pytest.mark.parametrize("included", [False, True])
async def test_sensitive_results_only_when_the_patient_included_them(
    app: App, included: bool
) -> None:
    _anna, relative = await relative_on(app, VIEW, sensitive=included)
    await relative.press("Открыть карту")
    await relative.press("Результаты анализов")
    shown = relative.last.text
    if "›" in relative.last.buttons:
        await relative.press("›")
        shown += relative.last.text
    assert ("Антитела к ВИЧ" in shown) is included
    assert app.runtime is not None
    anna = await anna_principal(app)
    labs = UseCases(app.runtime.uow_factory, app.runtime.ctx, LabResultsService)
    page = await labs.run(lambda s: s.results_page(anna, page=0))
    [hiv] = [r for r in page.items if r.test_name.startswith("Антитела к ВИЧ")]
    await forge(relative, f"result:{hiv.id}")
    if included:
        on_card(relative, VIEW, "Антитела к ВИЧ")
    else:
        assert "не открыл вам доступ к чувствительным результатам" in relative.last.text
        assert "p24:" not in relative.last.text


# -- an expired or revoked grant ----------------------------------------------------------


async def test_an_expired_grant_is_refused_on_the_next_click(app: App) -> None:
    _anna, relative = await relative_on(app, VIEW)
    await relative.press("Открыть карту")
    # The access ends with 31.12.2027 in Moscow.
    app.clock.current = datetime(2027, 12, 31, 21, 0, tzinfo=UTC) + timedelta(minutes=1)
    await relative.press("Диагнозы")
    text = relative.last.text
    assert text.startswith("⚠️ Срок доступа к карте Иванова А. С. истёк"), text
    assert "Карты близких" in text and "Диагнозы" not in text
    assert "Запросить доступ снова: Иванова А. С." in relative.last.buttons
    assert "Карта: Иванова А. С." not in relative.last.buttons
    await app.deliver_pushes()
    push = next(m for m in relative.bot_messages if "Срок вашего доступа" in (m.text or ""))
    assert push.text.startswith("Срок вашего доступа к карте Иванова А. С. истёк.")
    assert push.buttons == ["Запросить доступ снова"]


async def test_revoked_mid_session_then_asked_again_and_allowed_from_the_push(app: App) -> None:
    anna, relative = await relative_on(app, DOWNLOAD)
    await relative.press("Открыть карту")
    await relative.press("Результаты анализов")
    await revoke(app, anna)

    await relative.press(GLUCOSE)
    assert REVOKED in relative.alerts
    text = relative.last.text
    assert text.startswith(f"⚠️ {REVOKED}") and "Карты близких" in text, text
    assert "Глюкоза: 6,4" not in text
    await app.deliver_pushes()
    push = next(m for m in relative.bot_messages if "отозван владельцем" in (m.text or ""))
    assert push.text == "Доступ к карте Иванова А. С. отозван владельцем."
    assert push.buttons == ["Запросить доступ снова"]

    await relative.press("Запросить доступ снова", message=push)
    assert relative.alerts[-1].startswith("Запрос отправлен.")
    await app.deliver_pushes()
    request = next(m for m in anna.bot_messages if "просит снова" in (m.text or ""))
    assert request.text == (
        f"{RELATIVE_SHORT} просит снова открыть доступ к вашей медкарте («{DOWNLOAD}»)."
    )
    assert request.buttons == ["Разрешить", "Отклонить"]
    await anna.press("Разрешить", message=request)
    assert anna.alerts[-1] == f"Доступ для {RELATIVE_SHORT} снова открыт: до 31.12.2027."
    await app.deliver_pushes()
    assert any("снова открыл(а) вам доступ" in (m.text or "") for m in relative.bot_messages)
    # Answered once: the push's buttons do not work a second time.
    await anna.press("Отклонить", message=request)
    assert "уже ответили" in anna.alerts[-1]

    await relative.send("/start")
    await relative.press("Карта: Иванова А. С.")
    on_card(relative, DOWNLOAD, "Медкарта")


async def test_a_request_asked_from_the_cards_and_declined_from_the_push(app: App) -> None:
    anna, relative = await relative_on(app, VIEW)
    await revoke(app, anna)
    await relative.press("Карты близких")
    assert "Иванова А. С. — только просмотр, отозван" in relative.last.text
    await relative.press("Запросить доступ снова: Иванова А. С.")
    assert "Запрос отправлен." in relative.last.text
    assert "Запросить доступ снова: Иванова А. С." not in relative.last.buttons
    await app.deliver_pushes()
    request = next(m for m in anna.bot_messages if "просит снова" in (m.text or ""))
    await anna.press("Отклонить", message=request)
    assert anna.alerts[-1] == f"Запрос {RELATIVE_SHORT} отклонён."
    await app.deliver_pushes()
    assert any(
        m.text == "Иванова А. С. отклонил(а) ваш запрос на доступ к карте."
        for m in relative.bot_messages
    )
    await relative.send("/start")
    assert "Карта: Иванова А. С." not in relative.last.buttons


# -- the link --------------------------------------------------------------------------------


async def test_a_withdrawn_an_expired_and_an_unknown_link(app: App) -> None:
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    withdrawn = await invite(app, anna)
    await anna.press("К списку")
    await anna.press(re.compile(f"^{RELATIVE_SHORT}"))
    await anna.press("Отозвать приглашение")
    assert "приглашение отозвано" in anna.last.text, anna.last.text
    relative = app.user(user_id=RELATIVE_TG, phone=RELATIVE_PHONE, name="Павел")
    await relative.send(f"/start {withdrawn}")
    assert relative.last.text == (
        "Владелец карты отозвал это приглашение. Ссылка больше не действует."
    )
    assert relative.last.buttons == ["Карты близких"]

    await anna.send("/menu")
    expired = await invite(app, anna)
    app.clock.advance(days=7, seconds=1)
    await relative.send(f"/start {expired}")
    assert relative.last.text.startswith("Срок действия приглашения истёк ")
    assert "Попросите владельца карты отправить приглашение ещё раз." in relative.last.text

    await relative.send("/start inv_NotAToken0000000000000000")
    assert relative.last.text.startswith("Ссылка-приглашение не найдена.")


# -- a relative with an account, and someone with no cards -----------------------------------


async def test_a_relative_with_an_account_sees_his_menu_and_the_cards(app: App) -> None:
    petrov = app.user(user_id=1002, phone=PETROV_PHONE, name="Пётр")
    await app.sign_in(petrov, login=PETROV_PHONE)
    assert "Карты близких" in petrov.last.buttons
    assert "Доступ для близких" in petrov.last.buttons  # his own card's, to share it
    await petrov.press("Карты близких")
    assert "• Иванова А. С. — просмотр и скачивание, действует до" in petrov.last.text
    await petrov.press("Карта: Иванова А. С.")
    on_card(petrov, DOWNLOAD, "Медкарта")
    await petrov.press("Результаты анализов")
    on_card(petrov, DOWNLOAD, "Результаты анализов")
    await petrov.press("В меню")
    assert petrov.last.text.startswith("Карты близких")
    await petrov.press("Главное меню")
    assert petrov.last.text.startswith("Главное меню")
    assert "Карта: Иванова" not in petrov.last.text

    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    journal = await annas_journal(anna)
    assert "Петров С. И. (доступ «просмотр и скачивание») открыл результаты анализов" in journal


async def test_no_cards_no_relatives_cards_in_the_menu(app: App) -> None:
    # As on the portal, a section that holds nothing for this person is not offered;
    # an invitation is opened by its link, not from the menu.
    smirnova = app.user(user_id=1003, phone=SMIRNOVA_PHONE, name="Мария")
    await app.sign_in(smirnova, login=SMIRNOVA_PHONE)
    assert "Карты близких" not in smirnova.last.buttons
    assert "Доступ для близких" in smirnova.last.buttons


# -- Анна's journal ----------------------------------------------------------------------------


async def test_annas_journal_shows_the_relatives_views_and_downloads(app: App) -> None:
    anna, relative = await relative_on(app, DOWNLOAD)
    await relative.press("Открыть карту")
    await relative.press("Результаты анализов")
    await relative.press(GLUCOSE)
    await relative.press("Скачать файл")
    await relative.press("К списку результатов")
    await relative.press("Назад")
    await relative.press("Госпитализации")
    await relative.press("Обострение")
    await relative.press("Скачать выписной эпикриз")

    journal = await annas_journal(anna)
    who = f"{RELATIVE_SHORT} (доступ «просмотр и скачивание»)"
    for line in (
        "скачал документ медкарты",
        "открыл запись медкарты",
        "открыл раздел медкарты",
        "скачал файл результата анализа",
        "открыл результат анализа",
        "открыл результаты анализов",
    ):
        assert f"{who} {line}" in journal, journal
