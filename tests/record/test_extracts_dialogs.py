"""«Выписки и заключения» as Анна uses them: the list, a document and its file,
«Запросить выписку» (each kind, dates typed wrong, the signed PDF, the e-mail copy),
«История запросов», and forged buttons.

Анна's demo record (services.record.demo) holds one discharge summary with a file;
the app signs extracts with the demo organisation's certificate made in
DATA_DIR/signing (bot.signing), and the console mail gateway keeps every letter.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from bot.signing import root_file
from services.record.signing import verify_pdf
from storage.models import RecordDocument
from tests.support.bot import ANNA_PHONE, PETROV_PHONE, App
from tests.support.extracts import pdf_text

MSK = ZoneInfo("Europe/Moscow")
SUMMARY_BUTTON = "11.06.2025 · Выписной эпикриз: Выписной эпикриз"
STAY_BUTTON = "с 04.06.2025 по 11.06.2025, ГБУЗ «Городская клиническая бол…"
SIGNED_BY = "ГБУЗ «Городская поликлиника № 1»"
ANNA_NAME = "Иванова Анна Сергеевна"
ANNA_EMAIL = "anna.ivanova@example.ru"
MASKED_EMAIL = "a***@example.ru"
DATE_FORMAT = "Напишите дату в формате дд.мм.гггг, например 01.02.2025."
DATE_HINT = "Напишите дату сообщением в формате дд.мм.гггг, например 01.02.2025."
LIST_INTRO = (
    "Выписки и заключения\n\n"
    "Заключения врачей, выписные эпикризы и подписанные выписки из медкарты. "
    "Выберите документ, чтобы открыть его."
)
KINDS = ["Выписка из медкарты за период", "Выписной эпикриз", "Сводка результатов анализов"]
CAPTION = "Документ подписан электронной подписью медицинской организации."
DONE = (
    "Выписка готова: она выше, файлом PDF с электронной подписью.\n"
    "Подпись можно проверить в программе для просмотра PDF."
)
DONE_EMAILED = (
    "Выписка готова: она выше, файлом PDF с электронной подписью.\n"
    f"Копия отправлена на почту {MASKED_EMAIL}.\n"
    "Подпись можно проверить в программе для просмотра PDF."
)
NOT_FOUND = "Документ не найден. Возможно, он был удалён."


async def open_extracts(app: App) -> Any:
    anna = app.user()
    await app.sign_in(anna, login=ANNA_PHONE)
    await anna.press("Моя медкарта")
    await anna.press("Выписки и заключения")
    assert anna.last.text.startswith("Выписки и заключения"), anna.last.text
    return anna


def now_msk(app: App) -> str:
    """The time of a request as «История запросов» shows it (Moscow time)."""
    return f"{app.clock.now().astimezone(MSK):%d.%m.%Y %H:%M}"


def today(app: App) -> str:
    return f"{app.clock.now().astimezone(MSK):%d.%m.%Y}"


def root_pem(app: App) -> bytes:
    """The root certificate the app's signer chains to (the demo's, made at first start)."""
    return root_file(app.settings).read_bytes()


def forged(button: dict[str, Any], item_id: object) -> str:
    """The callback data of a list button of the same window, with another item's id."""
    data = str(button["callback_data"])
    return f"{data.rsplit(':', 1)[0]}:{item_id}"


async def press_forged(app: App, person: Any, data: str) -> None:
    await app.sandbox.press_callback(person.id, person.last.message_id, data)
    await app.settle()


async def test_the_list_holds_the_discharge_summary_which_opens_with_its_file(app: App) -> None:
    anna = await open_extracts(app)
    assert anna.last.text == LIST_INTRO
    assert anna.last.buttons == [
        SUMMARY_BUTTON,
        "Запросить выписку",
        "История запросов",
        "В медкарту",
        "В меню",
    ]

    await anna.press(SUMMARY_BUTTON)
    text = anna.last.text
    lines = text.splitlines()
    assert lines[:4] == [
        "Выписной эпикриз: Выписной эпикриз",
        "Дата: 11.06.2025",
        "Автор: Кравцова Марина Олеговна",
        "Медицинская организация: ГБУЗ «Городская клиническая больница № 7»",
    ]
    assert "Диагноз: K29.5 Хронический гастрит неуточненный, обострение." in lines
    assert "Состояние при выписке: удовлетворительное, боли купированы." in lines
    assert "Добавлено вами" not in text
    assert lines[-1] == "Файл можно скачать кнопкой ниже."
    assert anna.last.buttons == ["Скачать файл", "К выпискам", "В меню"]

    before = len(anna.files_received())
    await anna.press("Скачать файл")
    sent = anna.bot_messages[-2]
    assert sent.document is not None
    assert sent.document.name == "Выписной эпикриз 11.06.2025.pdf"
    assert sent.document.data.startswith(b"%PDF")
    assert sent.raw.get("has_protected_content") is True
    assert len(anna.files_received()) == before + 1
    # The window comes again under the file.
    assert anna.last.text == text and anna.last.buttons[0] == "Скачать файл"

    await anna.press("К выпискам")
    assert anna.last.text == LIST_INTRO
    await anna.press("В медкарту")
    assert anna.last.text.startswith("Моя медкарта")


async def test_request_a_period_extract_with_dates_typed_wrong_then_the_signed_pdf(
    app: App,
) -> None:
    anna = await open_extracts(app)
    await anna.press("Запросить выписку")
    assert anna.last.text == (
        "Запросить выписку\n\n"
        "Выберите, какой документ подготовить. Бот соберёт его из медкарты, подпишет "
        "электронной подписью медицинской организации и пришлёт файлом PDF."
    )
    assert anna.last.buttons == [*KINDS, "К выпискам", "В меню"]

    # The discharge summary of a hospitalisation: Анна's one stay is offered.
    await anna.press("Выписной эпикриз")
    assert anna.last.text == "Выписной эпикриз\n\nВыберите госпитализацию."
    assert anna.last.buttons == [STAY_BUTTON, "Назад", "В меню"]
    await anna.press("Назад")
    # The summary of lab results asks for a period.
    await anna.press("Сводка результатов анализов")
    assert anna.last.text.splitlines()[0] == "Сводка результатов анализов"
    assert anna.last.buttons == ["За последний год", "За всё время", "Назад", "В меню"]
    await anna.press("Назад")

    await anna.press("Выписка из медкарты за период")
    period_window = (
        "Выписка из медкарты за период\n\n"
        "За какой период? Выберите кнопкой или напишите дату начала периода.\n"
        f"{DATE_HINT}"
    )
    assert anna.last.text == period_window
    assert anna.last.buttons == ["За последний год", "За всё время", "Назад", "В меню"]

    await anna.send("32.01.2026")
    assert anna.last.text == (f"{period_window}\n\n⚠️ Такой даты нет в календаре. {DATE_FORMAT}")
    await anna.send("01.01.2026")
    end_window = (
        f"Начало периода: 01.01.2026\n\nТеперь напишите дату окончания периода.\n{DATE_HINT}"
    )
    assert anna.last.text == end_window
    assert anna.last.buttons == ["Назад", "В меню"]

    # A wrong end date: the reason, the question again, the start date kept.
    for typed, reason in (
        ("завтра", DATE_FORMAT),
        ("01.12.2026", "Дата не может быть позже сегодняшней."),
        ("31.12.2025", "Дата окончания не может быть раньше даты начала периода."),
    ):
        await anna.send(typed)
        assert anna.last.text == f"{end_window}\n\n⚠️ {reason}", typed
        assert anna.last.buttons == ["Назад", "В меню"]

    await anna.send(today(app))
    assert anna.last.text == (
        "Проверьте запрос\n\n"
        "Выписка из медкарты за период\n"
        f"Период: с 01.01.2026 по {today(app)}\n\n"
        "Документ будет подписан электронной подписью медицинской организации: "
        f"{SIGNED_BY}. Бот пришлёт его файлом PDF."
    )
    assert anna.last.buttons == [
        "Запросить",
        f"Отправить также на e-mail {MASKED_EMAIL}",
        "Назад",
        "В меню",
    ]

    letters = len(app.mail.sent)
    await anna.press("Запросить")
    sent = anna.bot_messages[-2]
    assert sent.document is not None
    assert sent.document.name == f"Выписка из ЭМК от {today(app)} №1.pdf"
    assert sent.document.mime_type == "application/pdf"
    assert sent.text == CAPTION
    assert sent.raw.get("has_protected_content") is True
    assert anna.last.text == DONE
    assert anna.last.buttons == ["История запросов", "К выпискам", "В меню"]
    assert len(app.mail.sent) == letters  # no copy asked for, no letter

    data = sent.document.data
    text = pdf_text(data)
    assert ANNA_NAME in text
    assert "Выписка из электронной медицинской карты" in text
    assert SIGNED_BY in text
    verdict = verify_pdf(data, root_pem(app))
    assert verdict.ok and verdict.intact and verdict.trusted, verdict
    assert verdict.signer is not None and SIGNED_BY in verdict.signer

    # The extract is in the list now, newest first, and opens.
    await anna.press("К выпискам")
    first = anna.last.buttons[0]
    assert first.startswith(f"{today(app)} · Выписка: Выписка из медкарты за период")
    assert SUMMARY_BUTTON in anna.last.buttons
    await anna.press(first)
    assert anna.last.text.splitlines()[:3] == [
        f"Выписка: Выписка из медкарты за период с 01.01.2026 по {today(app)}",
        f"Дата: {today(app)}",
        f"Медицинская организация: {SIGNED_BY}",
    ]
    await anna.press("Скачать файл")
    again = anna.bot_messages[-2]
    assert again.document is not None and again.document.data == data
    assert again.raw.get("has_protected_content") is True


async def test_the_email_copy_goes_only_when_asked_for(app: App) -> None:
    anna = await open_extracts(app)
    letters = len(app.mail.sent)

    # Not asked for: the toggle pressed twice leaves it off.
    await anna.press("Запросить выписку")
    await anna.press("Сводка результатов анализов")
    await anna.press("За последний год")
    await anna.press(f"Отправить также на e-mail {MASKED_EMAIL}")
    assert f"Копия будет отправлена на почту {MASKED_EMAIL}." in anna.last.text
    assert "Не отправлять на e-mail" in anna.last.buttons
    await anna.press("Не отправлять на e-mail")
    assert "Копия будет отправлена" not in anna.last.text
    await anna.press("Запросить")
    assert anna.bot_messages[-2].document is not None
    assert anna.last.text == DONE
    assert len(app.mail.sent) == letters and len(app.mail.attachments) == letters

    # Asked for: the letter with the same PDF goes to Анна's address.
    await anna.press("К выпискам")
    await anna.press("Запросить выписку")
    await anna.press("Сводка результатов анализов")
    await anna.press("За последний год")
    assert anna.last.text.splitlines()[2:4] == [
        "Сводка результатов анализов",
        f"Период: с 26.11.2025 по {today(app)}",
    ]
    await anna.press(f"Отправить также на e-mail {MASKED_EMAIL}")
    await anna.press("Запросить")
    sent = anna.bot_messages[-2]
    assert sent.document is not None and sent.raw.get("has_protected_content") is True
    assert anna.last.text == DONE_EMAILED

    assert len(app.mail.sent) == letters + 1
    address, subject, body = app.mail.sent[-1]
    assert address == ANNA_EMAIL
    assert subject == "Выписка из электронной медицинской карты"
    assert "Сводка результатов анализов" in body and SIGNED_BY in body
    (attachment,) = app.mail.attachments[-1]
    assert attachment.file_name == sent.document.name
    assert attachment.mime_type == "application/pdf"
    assert attachment.data == sent.document.data
    assert ANNA_NAME in pdf_text(attachment.data)
    assert verify_pdf(attachment.data, root_pem(app)).ok

    await anna.press("История запросов")
    lines = anna.last.text.splitlines()
    assert lines[2] == (
        f"• {now_msk(app)} — Сводка результатов анализов, с 26.11.2025 по {today(app)}: "
        "готова, копия отправлена на почту"
    )
    assert lines[3] == (
        f"• {now_msk(app)} — Сводка результатов анализов, с 26.11.2025 по {today(app)}: готова"
    )


async def test_the_history_shows_the_request_just_made(app: App) -> None:
    anna = await open_extracts(app)
    await anna.press("История запросов")
    assert anna.last.text == "История запросов (время московское)\n\nВы ещё не запрашивали выписки."
    assert anna.last.buttons == ["Запросить выписку", "К выпискам", "В меню"]

    await anna.press("Запросить выписку")
    await anna.press("Выписной эпикриз")
    await anna.press(STAY_BUTTON)
    assert anna.last.text.startswith(
        "Проверьте запрос\n\n"
        "Выписной эпикриз\n"
        "Госпитализация: с 04.06.2025 по 11.06.2025, "
        "ГБУЗ «Городская клиническая больница № 7»\n"
    )
    requested = now_msk(app)
    await anna.press("Запросить")
    made = anna.bot_messages[-2].document
    assert made is not None and made.name == f"Выписной эпикриз от {today(app)} №1.pdf"
    assert "Выписной эпикриз" in pdf_text(made.data) and ANNA_NAME in pdf_text(made.data)

    # Later (within the session), the history still shows when it was asked for.
    app.clock.advance(minutes=10)
    await anna.press("История запросов")
    assert anna.last.text == (
        "История запросов (время московское)\n\n"
        f"• {requested} — Выписной эпикриз, госпитализация с 04.06.2025 по 11.06.2025: готова"
    )
    assert anna.last.buttons == [
        f"Скачать: Выписной эпикриз от {requested}",
        "Запросить выписку",
        "К выпискам",
        "В меню",
    ]
    await anna.press(f"Скачать: Выписной эпикриз от {requested}")
    again = anna.bot_messages[-2]
    assert again.document is not None and again.document.data == made.data
    assert again.raw.get("has_protected_content") is True
    assert anna.last.text.startswith("История запросов")


async def test_a_failed_signing_is_kept_in_the_history_and_can_be_tried_again(app: App) -> None:
    assert app.runtime is not None
    ctx = app.runtime.ctx
    signer = ctx.signer

    class Broken:
        organisation = SIGNED_BY

        def sign(self, pdf: bytes, *, reason: str) -> bytes:
            raise RuntimeError("the token is unplugged")

    anna = await open_extracts(app)
    await anna.press("Запросить выписку")
    await anna.press("Выписка из медкарты за период")
    await anna.press("За всё время")
    assert f"Период: за всё время (по {today(app)})" in anna.last.text
    ctx.signer = Broken()  # type: ignore[assignment]
    try:
        files = len(anna.files_received())
        await anna.press("Запросить")
        assert anna.last.text == (
            "Извините, выписку не удалось подготовить. Запрос сохранён в истории запросов. "
            "Пожалуйста, попробуйте ещё раз."
        )
        assert anna.last.buttons == ["Попробовать ещё раз", "К выпискам", "В меню"]
        assert len(anna.files_received()) == files
    finally:
        ctx.signer = signer
    await anna.press("Попробовать ещё раз")
    sent = anna.bot_messages[-2]
    assert sent.document is not None and sent.raw.get("has_protected_content") is True
    assert verify_pdf(sent.document.data, root_pem(app)).ok
    await anna.press("История запросов")
    assert anna.last.text.splitlines()[2:] == [
        f"• {now_msk(app)} — Выписка из медкарты за период, за всё время (по {today(app)}): готова",
        f"• {now_msk(app)} — Выписка из медкарты за период, за всё время (по {today(app)}): "
        "не удалось подготовить",
    ]
    assert [b for b in anna.last.buttons if b.startswith("Скачать")] == [
        f"Скачать: Выписка из медкарты за период от {now_msk(app)}"
    ]


async def _petrovs_document(app: App) -> int:
    """A conclusion with a file in Петров's account (not Анна's)."""
    assert app.runtime is not None
    store = app.runtime.ctx.gateways.files
    assert store is not None
    key = await store.put(b"%PDF-1.4 petrov")
    async with app.runtime.uow_factory() as uow:
        petrov = await uow.identity.accounts.find_by_any(PETROV_PHONE, None)
        assert petrov is not None
        document = await uow.record.extracts.add_document(
            RecordDocument(
                account_id=petrov.id,
                kind="conclusion",
                title="Заключение кардиолога",
                document_date=date(2026, 10, 1),
                body="Секретное заключение для Петрова.",
                author_name="Сидоров И. И.",
                source="doctor",
                storage_key=key,
                mime_type="application/pdf",
                file_name="petrov.pdf",
                created_at=app.clock.now(),
            )
        )
        await uow.commit()
        return document.id


async def test_a_forged_button_for_another_persons_or_no_document_is_refused(app: App) -> None:
    """Анна presses buttons carrying the id of Петров's document or of none: a refusal, no data."""
    petrovs = await _petrovs_document(app)
    anna = await open_extracts(app)
    button = anna.last.button(SUMMARY_BUTTON)
    files = len(anna.files_received())

    for item_id in (petrovs, 999_999):
        await anna.press("К выпискам") if "К выпискам" in anna.last.buttons else None
        await press_forged(app, anna, forged(button, item_id))
        text = anna.last.text
        assert text == f"Документ недоступен.\n\n⚠️ {NOT_FOUND}", item_id
        assert "Скачать файл" not in anna.last.buttons
        assert "Петров" not in text and "кардиолог" not in text

    # A button id that is no number at all does nothing: the list stays as it was.
    await anna.press("К выпискам")
    await press_forged(app, anna, forged(button, "abc"))
    assert anna.last.text == LIST_INTRO

    # The history's download button with Петров's document id sends nothing.
    await anna.press("Запросить выписку")
    await anna.press("Выписка из медкарты за период")
    await anna.press("За последний год")
    await anna.press("Запросить")
    files = len(anna.files_received())
    await anna.press("История запросов")
    download = anna.last.button(f"Скачать: Выписка из медкарты за период от {now_msk(app)}")
    await press_forged(app, anna, forged(download, petrovs))
    assert anna.last.text.endswith(f"⚠️ {NOT_FOUND}")
    assert "Петров" not in anna.last.text
    assert len(anna.files_received()) == files

    # A hospitalisation that was not offered is not taken.
    await anna.press("Запросить выписку")
    await anna.press("Выписной эпикриз")
    stay = anna.last.button(STAY_BUTTON)
    await press_forged(app, anna, forged(stay, 999_999))
    assert anna.last.text == "Выписной эпикриз\n\nВыберите госпитализацию."
