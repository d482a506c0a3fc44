"""Relatives end to end: `python -m bot run` as a separate process over HTTP.

Анна invites a relative, who opens the link, shares their own phone, types the
code from the console SMS (the bot's log), consents and opens Анна's results;
Анна revokes with a code, and the relative's next click is refused with
«Доступ к карте … отозван». The notifier inside `run` delivers the pushes.
"""

from __future__ import annotations

import re

from tests.e2e.test_run_process import (
    BotProcess,
    codes,
    last_buttons,
    last_text,
    new_code,
    pushed,
    sign_in_anna,
    until,
)
from tgsandbox import Sandbox

PASSWORD = "Demo-Passw0rd"
ANNA_PHONE = "+79990000001"
# Not one of the demo's people: Анна invites him here.
RELATIVE_NAME, RELATIVE_PHONE = "Смирнов Павел Олегович", "+79990000007"
LINK = re.compile(r"https://t\.me/\S+\?start=(inv_[A-Za-z0-9_-]+)")
JOURNAL_LINE = re.compile(r"^(.+) — \d\d\.\d\d\.\d{4} \d\d:\d\d$", re.M)


async def test_invite_accept_view_revoke_refused_with_the_bot_as_a_process(
    served: tuple[Sandbox, BotProcess],
) -> None:
    sandbox, bot = served
    await bot.start()
    anna = await sign_in_anna(sandbox, bot)

    async def anna_sees(words: str) -> None:
        await until(lambda: words in last_text(anna), repr(words))

    # Анна invites.
    await anna.press("Доступ для близких")
    await anna_sees("Здесь вы решаете, кто из близких")
    await anna.press("Пригласить")
    await anna_sees("Шаг 1 из 6")
    await anna.send(RELATIVE_NAME)
    await anna_sees("Шаг 2 из 6")
    await anna.send(RELATIVE_PHONE)
    await anna_sees("Шаг 3 из 6")
    await anna.press("доверенное лицо")
    await anna_sees("Шаг 4 из 6")
    await anna.press("только просмотр")
    await anna_sees("Шаг 5 из 6")
    await anna.press("Бессрочно")
    await until(lambda: "Нет, не показывать" in last_buttons(anna), "the sensitive question")
    await anna.press("Нет, не показывать")
    await anna_sees("Проверьте приглашение")
    before = codes(bot)
    await anna.press("Подтвердить кодом")
    await anna.send(await new_code(bot, before))
    await anna_sees("Приглашение создано")
    match = LINK.search(last_text(anna))
    assert match, last_text(anna)
    payload = match.group(1)
    # The link was texted to the relative's phone too (the console SMS, phone masked).
    assert payload in bot.output()

    # The relative accepts through the link.
    relative = sandbox.user(user_id=7907, first_name="Павел", phone=RELATIVE_PHONE)

    async def relative_sees(words: str) -> None:
        await until(lambda: words in last_text(relative), repr(words))

    await relative.send(f"/start {payload}")
    await relative_sees("Иванова А. С. приглашает вас")
    assert "Уровень доступа: только просмотр" in last_text(relative)
    await relative.press("Принять приглашение")
    await until(lambda: bool(relative.current_reply_keyboard()), "the contact button")
    before = codes(bot)
    await relative.press("Поделиться номером")
    await relative_sees("код подтверждения")
    await relative.send(await new_code(bot, before))
    await relative_sees("Согласие на доступ")
    await relative.press("Согласен(на)")
    await relative_sees("Доступ открыт")
    await until(lambda: pushed(anna, "Смирнов П. О. принял(а) ваше приглашение"), "Анна's push")

    # The relative opens Анна's results.
    await relative.press("Открыть карту")
    await relative_sees("Карта: Иванова А. С. · только просмотр")
    await until(lambda: "Результаты анализов" in last_buttons(relative), "the card's menu")
    await relative.press("Результаты анализов")
    await until(
        lambda: (
            "Глюкоза" in last_text(relative)
            and last_text(relative).startswith("Карта: Иванова А. С. · только просмотр")
        ),
        "the results on Анна's card",
    )
    assert "ВИЧ" not in last_text(relative)
    results_window = relative.messages[-1]

    # Анна revokes, confirmed with a code.
    await anna.send("/menu")
    await anna_sees("Главное меню")
    await anna.press("Доступ для близких")
    await until(lambda: any(b.startswith("Смирнов П. О.") for b in last_buttons(anna)), "the grant")
    await anna.press(re.compile(r"^Смирнов П\. О\."))
    await until(lambda: "Отозвать" in last_buttons(anna), "the grant's screen")
    await anna.press("Отозвать")
    await until(lambda: "Отозвать доступ" in last_buttons(anna), "the confirmation")
    before = codes(bot)
    await anna.press("Отозвать доступ")
    await anna.send(await new_code(bot, before))
    await anna_sees("Состояние: отозван")

    # The relative's next click is refused, and a push tells them.
    button = next(b for b in results_window.buttons if b not in ("В меню",))
    await relative.press(button, message=results_window)
    refusal = "Доступ к карте Иванова А. С. отозван."  # not the push: «… отозван владельцем.»
    await until(lambda: pushed(relative, refusal), "the refusal")
    [shown] = [m.text or "" for m in relative.messages if m.from_bot and refusal in (m.text or "")]
    # The refusal comes with the relative's own menu, «Карты близких».
    assert "Карты близких" in shown and "Запросить доступ снова" in " ".join(
        b for m in relative.messages if m.from_bot and refusal in (m.text or "") for b in m.buttons
    ), shown
    await until(lambda: pushed(relative, "отозван владельцем"), "the relative's push")

    # Анна's journal names him with his level.
    await anna.send("/menu")
    await anna_sees("Главное меню")
    await anna.press("Журнал действий")
    await anna_sees("Журнал действий")
    lines = JOURNAL_LINE.findall(last_text(anna))
    assert "Смирнов П. О. (доступ «только просмотр») открыл результаты анализов" in lines, lines

    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    assert payload.removeprefix("inv_") not in log.replace(f"start={payload}", "")
