"""Relatives through the screens: Анна invites, the relative accepts by the link, sees the
card at the level granted, Анна revokes and the relative's next click is refused."""

from __future__ import annotations

import re
from typing import Any

from tests.support.bot import ANNA_PHONE, App

# The demo seeds Анна's invitation of Иванов (+79990000005): the tests invite someone else.
RELATIVE = "Сидоров Павел Олегович"
RELATIVE_SHORT = "Сидоров П. О."
RELATIVE_PHONE = "+79990000007"
LINK = re.compile(r"https://t\.me/\S+\?start=(inv_[A-Za-z0-9_-]+)")


async def invite(
    app: App,
    anna: Any,
    *,
    level: str = "только просмотр",
    phone: str = RELATIVE_PHONE,
    sensitive: bool = False,
) -> str:
    """Анна invites Сидоров at `level` until 31.12.2027; the `/start inv_…` payload."""
    await anna.press("Доступ для близких")
    assert anna.last.text.startswith("Доступ для близких"), anna.last.text
    await anna.press("Пригласить")
    await anna.send("Сидоров")
    assert "⚠️" in anna.last.text and "Шаг 1 из 6" in anna.last.text
    await anna.send("сидоров павел олегович")
    assert "Шаг 2 из 6" in anna.last.text, anna.last.text
    await anna.send("12345")
    assert "⚠️" in anna.last.text and "Шаг 2 из 6" in anna.last.text
    await anna.send(phone)
    await anna.press("ребёнок")
    assert "только просмотр — разделы медкарты" in anna.last.text
    await anna.press(level)
    await anna.press("До определённой даты")
    await anna.send("01.01.2020")
    assert "позже сегодняшней" in anna.last.text
    await anna.send("31.12.2027")
    await anna.press("Да, показывать" if sensitive else "Нет, не показывать")
    review = anna.last.text
    assert "Проверьте приглашение" in review and "Срок: до 31.12.2027" in review
    if not sensitive:
        assert "Чувствительные результаты: не показывать" in review
    await anna.press("Подтвердить кодом")
    await anna.send(app.last_sms_code())
    text = anna.last.text
    assert text.startswith("Приглашение создано"), text
    match = LINK.search(text)
    assert match, text
    sms_phone, sms_text = app.sms.sent[-1]
    assert sms_phone == phone and match.group(1) in sms_text
    return match.group(1)


async def accept(app: App, relative: Any, payload: str) -> None:
    await relative.send(f"/start {payload}")
    assert "Иванова А. С. приглашает вас" in relative.last.text, relative.last.text
    await relative.press("Принять приглашение")
    await relative.press("Поделиться номером")
    assert "код подтверждения" in relative.last.text, relative.last.text
    await relative.send(app.last_sms_code())
    assert "Согласие на доступ" in relative.last.text, relative.last.text
    await relative.press("Согласен(на)")
    assert relative.last.text.startswith("Доступ открыт"), relative.last.text


async def test_invite_accept_view_revoke_refused(app: App) -> None:
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    payload = await invite(app, anna)
    await anna.press("К списку")
    assert f"{RELATIVE_SHORT} (ребёнок) — только просмотр, приглашение отправлено" in anna.last.text

    relative = app.user(user_id=2005, phone=RELATIVE_PHONE, name="Павел")
    await accept(app, relative, payload)
    await app.deliver_pushes()
    assert any(f"{RELATIVE_SHORT} принял(а) ваше приглашение" in m.text for m in anna.bot_messages)

    await relative.press("Открыть карту")
    card = relative.last.text
    assert card.startswith("Карта: Иванова А. С. · только просмотр"), card
    assert "Личные данные и полисы" not in relative.last.buttons
    assert "Выписки и заключения" not in relative.last.buttons
    await relative.press("Результаты анализов")
    assert relative.last.text.startswith("Карта: Иванова А. С. · только просмотр")
    # The sensitive result is not there (not included).
    assert "ВИЧ" not in relative.last.text

    # The link is good once.
    other = app.user(user_id=2006, phone=RELATIVE_PHONE, name="Другой")
    await other.send(f"/start {payload}")
    assert "уже принято" in other.last.text

    # Анна revokes; the relative's next click is refused.
    await anna.send("/menu")
    await anna.press("Доступ для близких")
    await anna.press(f"{RELATIVE_SHORT} — действует до 31.12.2027")
    assert "Последний доступ:" in anna.last.text
    await anna.press("Отозвать")
    await anna.press("Отозвать доступ")
    await anna.send(app.last_sms_code())
    assert "Состояние: отозван" in anna.last.text, anna.last.text

    await relative.press("›") if "›" in relative.last.buttons else await relative.press("В меню")
    assert "Доступ к карте Иванова А. С. отозван" in relative.last.text, relative.last.text
    assert "Карты близких" in relative.last.text
    await app.deliver_pushes()
    assert any("отозван владельцем" in m.text for m in relative.bot_messages)

    # The journal shows the relative's actions by name and level.
    await anna.send("/menu")
    await anna.press("Журнал действий")
    journal = anna.last.text
    line = f"{RELATIVE_SHORT} (доступ «только просмотр») открыл результаты анализов"
    assert line in journal, journal


async def test_wrong_phone_and_forwarded_contact(app: App) -> None:
    anna = app.user(user_id=1001, phone=ANNA_PHONE)
    await app.sign_in(anna)
    payload = await invite(app, anna)
    stranger = app.user(user_id=3001, phone="+79995550000", name="Чужой")
    await stranger.send(f"/start {payload}")
    await stranger.press("Принять приглашение")
    await stranger.share_contact(RELATIVE_PHONE, own=False, user_id=2005)
    assert "Пересланный контакт не подходит" in stranger.last.text
    for _ in range(2):
        await stranger.press("Поделиться номером")
        assert "не совпадает" in stranger.last.text, stranger.last.text
    await stranger.press("Поделиться номером")
    assert "Ссылка больше не действует" in stranger.last.text, stranger.last.text
    await app.deliver_pushes()
    assert sum("открыли с другим номером" in m.text for m in anna.bot_messages) == 3
    relative = app.user(user_id=2005, phone=RELATIVE_PHONE)
    await relative.send(f"/start {payload}")
    assert "Ссылка больше не действует" in relative.last.text
