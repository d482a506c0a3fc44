"""«Результаты анализов» as Анна uses them: the list, a result, its file, «Динамика», the push.

Анна's demo results (services.record.demo_labs) are seeded with the app.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.api import ApiConfig, create_api_app
from services.integration.admin import LabAdmin
from tests.support import labs as lab_support
from tests.support.bot import ANNA_PHONE, PETROV_PHONE, App

ENTRY = re.compile(r"^\d+\. (\d\d\.\d\d\.\d{4}) — (.+?)( · 🆕 новый)?$", re.M)


def entries(text: str) -> list[tuple[str, str, bool]]:
    return [(day, name, bool(new)) for day, name, new in ENTRY.findall(text)]


async def open_results(app: App, phone: str = ANNA_PHONE, user_id: int = 1001) -> Any:
    person = app.user(user_id=user_id, phone=phone)
    await app.sign_in(person, login=phone)
    await person.press("Моя медкарта")
    await person.press("Результаты анализов")
    assert person.last.text.startswith("Результаты анализов"), person.last.text
    return person


async def test_anna_sees_her_results_newest_first_with_new_marks(app: App) -> None:
    anna = await open_results(app)
    text = anna.last.text
    shown = entries(text)
    assert len(shown) == 6
    assert shown[0] == ("16.11.2026", "Глюкоза", True)
    assert [new for *_, new in shown[1:]] == [False] * 5
    assert "Антитела к ВИЧ 1/2 и антиген p24" in [name for _, name, _ in shown]
    assert "окончательный · КДЛ Городской поликлиники № 1 · врач: Соколова М. А." in text
    assert "Страница 1 из 2" in text
    assert anna.last.buttons[0] == "🆕 1. 16.11.2026 Глюкоза"
    assert anna.last.buttons[6:] == ["›", "Фильтр по анализу", "Назад", "В меню"]

    await anna.press("›")
    second = anna.last.text
    assert "Страница 2 из 2" in second
    later = entries(second)
    assert len(later) == 5 and later[-1][1] == "Глюкоза"
    assert "›" not in anna.last.buttons and "‹" in anna.last.buttons
    assert {e[1] for e in later} >= {"Общий анализ крови", "Холестерин общий"}
    await anna.press("‹")
    assert "Страница 1 из 2" in anna.last.text

    # Opening the new result makes it no longer new.
    await anna.press("🆕 1. 16.11.2026 Глюкоза")
    assert anna.last.text.startswith("Глюкоза")
    await anna.press("К списку результатов")
    assert entries(anna.last.text)[0] == ("16.11.2026", "Глюкоза", False)
    assert "🆕" not in anna.last.text
    await anna.press("Назад")
    assert anna.last.text.startswith("Моя медкарта")


async def test_the_filter_by_test(app: App) -> None:
    anna = await open_results(app)
    await anna.press("Фильтр по анализу")
    assert anna.last.buttons == [
        "Антитела к ВИЧ 1/2 и антиген p24",
        "Глюкоза",
        "Общий анализ крови",
        "Холестерин общий",
        "Все анализы",
        "Назад",
    ]
    await anna.press("Холестерин общий")
    text = anna.last.text
    assert "Анализ: Холестерин общий" in text
    assert [name for _, name, _ in entries(text)] == ["Холестерин общий"] * 3
    assert "Страница" not in text
    await anna.press("Фильтр по анализу")
    await anna.press("Все анализы")
    assert "Анализ:" not in anna.last.text and "Страница 1 из 2" in anna.last.text


async def test_one_result_its_file_and_its_chart(app: App) -> None:
    anna = await open_results(app)
    await anna.press("🆕 1. 16.11.2026 Глюкоза")
    text = anna.last.text
    assert text.splitlines()[0] == "Глюкоза"
    for line in (
        "Дата: 16.11.2026",
        "Статус: окончательный",
        "Лаборатория: КДЛ Городской поликлиники № 1",
        "Направил врач: Соколова М. А.",
        "• Глюкоза: 6,4 ммоль/л ↑ (норма 3,9–6,1)",
        "Комментарий лаборатории: Рекомендуется повторить исследование натощак.",
    ):
        assert line in text.splitlines(), line
    assert "Комментарий врача:" in text
    assert "предварительный" not in text
    assert anna.last.buttons == [
        "Скачать файл",
        "Динамика: Глюкоза",
        "Спросить врача",
        "К списку результатов",
        "В меню",
    ]

    await anna.press("Скачать файл")
    sent = anna.bot_messages[-2]
    assert sent.document is not None
    assert sent.document.data.startswith(b"%PDF") and sent.document.name.endswith(".pdf")
    assert sent.raw.get("has_protected_content") is True
    # The window comes again under the file.
    assert anna.last.text.startswith("Глюкоза") and "Скачать файл" in anna.last.buttons

    await anna.press("Динамика: Глюкоза")
    chart = anna.bot_messages[-2]
    assert chart.photo is not None and chart.photo.width and chart.photo.width >= 800
    assert chart.raw.get("has_protected_content") is True
    caption = chart.text or ""
    assert caption.startswith("Динамика: Глюкоза, ммоль/л — значений: 5")
    assert "Последнее: 6,4 ммоль/л (16.11.2026)" in caption
    assert "Первое: 5,1 ммоль/л" in caption
    assert "Направление: растёт." in caption
    assert "Последнее значение выше нормы (норма 3,9–6,1)." in caption
    assert anna.last.text.startswith("Глюкоза")


async def test_a_blood_count_offers_a_chart_for_each_analyte(app: App) -> None:
    anna = await open_results(app)
    await anna.press("Фильтр по анализу")
    await anna.press("Общий анализ крови")
    await anna.press(anna.last.buttons[0])
    text = anna.last.text
    assert "• Гемоглобин: 131 г/л (норма 120–140)" in text
    assert "• СОЭ: 9 мм/ч (норма 2–20)" in text
    assert "↑" not in text
    assert "Динамика: Гемоглобин" in anna.last.buttons
    await anna.press("Динамика: Лейкоциты")
    assert "Направление: снижается." in (anna.bot_messages[-2].text or "")


async def _push_a_result(app: App) -> None:
    """A laboratory posts a glucose result for Анна to the API; the notifier delivers it."""
    assert app.runtime is not None
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from services.integration.demo_lab import build_bundle

    runtime = app.runtime
    key = ed25519.Ed25519PrivateKey.generate()
    async with runtime.uow_factory() as uow:
        lab = await LabAdmin(uow, runtime.ctx, operator="test").add_lab(
            "Лаборатория «Тест»", lab_support.public_pem(key)
        )
        await uow.commit()
    signer = lab_support.TestLab(lab.id, lab.issuer, key, lab.algorithm)
    api = create_api_app(
        ApiConfig(work=runtime.uow_factory, ctx=runtime.ctx, audience=lab_support.AUDIENCE)
    )
    client: TestClient[Any, Any] = TestClient(TestServer(api))
    await client.start_server()
    try:
        response = await client.post(
            "/api/v1/lab-results",
            json=build_bundle(snils="11223344595", test="glucose", now=app.clock.now()),
            headers={
                "Authorization": f"Bearer {signer.token(app.clock.now())}",
                "Content-Type": "application/fhir+json",
            },
        )
        assert response.status in (200, 201), await response.text()
    finally:
        await client.close()
    assert await app.deliver_pushes() >= 1


async def test_the_pushed_open_result_button_opens_the_new_result(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    await _push_a_result(app)
    push = next(m for m in reversed(anna.bot_messages) if "Готов результат" in (m.text or ""))
    assert push.text.startswith("Готов результат: ")
    assert push.buttons == ["Открыть результат"]
    await anna.press("Открыть результат", message=push)
    text = anna.last.text
    first = text.splitlines()[0]
    assert first in push.text
    assert "Лаборатория:" in text and "• " in text
    assert anna.last.buttons[-2:] == ["К списку результатов", "В меню"]
    await anna.press("К списку результатов")
    assert entries(anna.last.text)[0][2] is False  # just opened: not new any more
    assert entries(anna.last.text)[1] == ("16.11.2026", "Глюкоза", True)


async def test_the_push_button_asks_to_sign_in_first(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    await _push_a_result(app)
    push = next(m for m in reversed(anna.bot_messages) if "Готов результат" in (m.text or ""))
    await anna.send("/logout")
    await anna.press("Открыть результат", message=push)
    assert "Лаборатория:" not in anna.last.text
    assert "Чтобы открыть результат анализа, войдите в учётную запись." in anna.alerts
    assert "Введите логин от Госуслуг" in anna.last.text


async def test_another_persons_result_from_a_forged_button_is_refused(app: App) -> None:
    """Петров presses a result button carrying the id of Анна's result: a refusal, no data."""
    anna = await open_results(app)
    await anna.press("🆕 1. 16.11.2026 Глюкоза")
    petrov = app.user(user_id=1002, phone=PETROV_PHONE, name="Пётр")
    await app.sign_in(petrov, login=PETROV_PHONE)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_any(ANNA_PHONE, None)
        assert account is not None
        [newest] = await uow.record.labs.page(account.id, offset=0, limit=1)
    await app.sandbox.press_callback(petrov.id, petrov.last.message_id, f"push:result:{newest.id}")
    await app.settle()
    text = petrov.last.text
    assert "Такого результата анализа в карте нет." in text
    assert "6,4" not in text and "Глюкоза" not in text
    await app.sandbox.press_callback(petrov.id, petrov.last.message_id, "push:result:abc")
    await app.settle()
    assert "Такого результата анализа нет." in petrov.alerts
    assert "6,4" not in petrov.last.text
