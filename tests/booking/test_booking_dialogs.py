"""«Записаться к врачу» and «Мои записи» as a person uses them, through the Telegram sandbox.

The demo data (services.booking.demo) are seeded with the app. Clock: 26.11.2026
12:00 МСК, a Thursday. Working days: 26, 27, 30 ноября, 1–4, 7–11, 14, 15 декабря,
09:00–15:00, 20 minutes a visit. Анна has a visit to офтальмолог Ким on 30 ноября at
10:00 and a referral to the cardiologist; Петров has neither.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from services.booking.visits import BookingService, VisitView
from services.core.access import CurrentUser
from services.core.work import UseCases
from tests.support.bot import ANNA_PHONE, PASSWORD, PETROV_PHONE, App, png_bytes
from tgsandbox import SandboxUser

TIME = re.compile(r"^\d\d:\d\d$")


async def petrov(app: App) -> SandboxUser:
    person = app.user(user_id=1002, phone=PETROV_PHONE, name="Пётр")
    await sign_in_again(app, person)
    return person


async def anna(app: App) -> SandboxUser:
    person = app.user()
    await app.sign_in(person)
    return person


async def sign_in_again(app: App, person: SandboxUser, phone: str = PETROV_PHONE) -> None:
    """After the session ended (hours on the clock): the sign-in once more."""
    await person.send("/start")
    if "Войти через Госуслуги" in person.last.buttons:
        await person.press("Войти через Госуслуги")
    await person.send(phone)
    await person.send(PASSWORD)
    if person.current_reply_keyboard():
        await person.press("Поделиться номером")
    if "Как вы хотите получить код" in (person.last.text or ""):
        await person.press("Код из SMS")
    await person.send(app.last_sms_code())
    assert "Главное меню" in person.last.text


async def principal(app: App, phone: str) -> CurrentUser:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        account = await uow.identity.accounts.find_by_any(phone, None)
        assert account is not None
        return CurrentUser(account_id=account.id, session_id=0, display_name="")


async def organisation(app: App) -> int:
    user = await principal(app, ANNA_PHONE)
    start = await service(app).run(lambda s: s.start(user))
    return start.organisation_id


def service(app: App) -> UseCases[BookingService]:
    assert app.runtime is not None
    return UseCases(app.runtime.uow_factory, app.runtime.ctx, BookingService)


async def upcoming(app: App, phone: str) -> list[VisitView]:
    user = await principal(app, phone)
    return await service(app).run(lambda s: s.upcoming(user))


async def to_sokolova_calendar(person: SandboxUser) -> None:
    await person.press("Записаться к врачу")
    await person.press("Терапевт")
    await person.press("Соколова Мария Андреевна, каб. 105")
    assert "Запись к врачу: терапевт Соколова М. А." in person.last.text


def times(person: SandboxUser) -> list[str]:
    return [b for b in person.last.buttons if TIME.match(b)]


# -- the whole booking -------------------------------------------------------------------


async def test_the_whole_booking_the_push_and_the_calendar_file(app: App) -> None:
    person = await petrov(app)
    assert person.last.buttons[:2] == ["Записаться к врачу", "Мои записи"]
    await person.press("Записаться к врачу")
    text = person.last.text
    assert text.startswith("Записаться к врачу") and "Городская поликлиника № 1" in text
    assert person.last.buttons == [
        "Терапевт",
        "Офтальмолог",
        "Кардиолог (по направлению)",
        "В меню",
    ]
    await person.press("Терапевт")
    assert "Выберите врача — терапевт." in person.last.text
    assert person.last.buttons == [
        "Орлов Игорь Петрович, каб. 107",
        "Соколова Мария Андреевна, каб. 105",
        "Любой врач",
        "Назад",
        "В меню",
    ]
    await person.press("Соколова Мария Андреевна, каб. 105")
    calendar = person.last
    assert "Ближайшее свободное время: 26 ноября 2026 (чт) в 12:20" in calendar.text
    # Monday first, Russian names; the weekend is marked; paging within the horizon.
    assert calendar.keyboard[0] == ["Ноябрь 2026"]
    assert calendar.keyboard[1] == ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
    assert calendar.keyboard[2] == [" ", " ", " ", "26", "27", "28✗", "29✗"]
    assert calendar.keyboard[3][0] == "30"
    assert "Декабрь ›" in calendar.buttons and "‹ Октябрь" not in calendar.buttons
    await person.press("Декабрь ›")
    december = person.last.keyboard
    assert december[0] == ["Декабрь 2026"]
    assert december[2] == [" ", "1", "2", "3", "4", "5✗", "6✗"]
    assert "16✗" in person.last.buttons  # after the 14 working days
    await person.press("Январь ›")
    assert person.last.keyboard[0] == ["Январь 2027"] and "Февраль ›" not in person.last.buttons
    await person.press("‹ Декабрь")
    await person.press("‹ Ноябрь")

    await person.press("27")
    assert person.last.text.startswith("Свободное время на 27 ноября 2026 (пт)")
    shown = times(person)
    assert shown[0] == "09:00" and "09:20" not in shown  # 09:20 is taken by someone else
    await person.press("09:00")
    confirm = person.last.text
    assert confirm.startswith("Проверьте запись")
    for line in (
        "Врач: Соколова Мария Андреевна",
        "Специальность: терапевт",
        "Дата и время: 27 ноября 2026 (пт) в 09:00",
        "Адрес: Городская поликлиника № 1, г. Москва, ул. Профсоюзная, д. 12",
        "Кабинет: 105",
    ):
        assert line in confirm.splitlines(), line
    assert "С собой: " in confirm
    assert person.last.buttons == ["Записаться", "Назад"]

    await person.press("Записаться")
    done = person.last.text
    assert done.startswith("✅ Вы записаны на приём")
    assert "Дата и время: 27 ноября 2026 (пт) в 09:00" in done
    assert "накануне в 18:00 и за 2 ч" in done
    assert person.last.buttons == [
        "Прикрепить файл",
        "Добавить в календарь",
        "Мои записи",
        "В меню",
    ]

    await person.press("Добавить в календарь")
    sent = person.bot_messages[-2]
    assert sent.document is not None and sent.document.name == "priyom-2026-11-27-0900.ics"
    assert b"BEGIN:VEVENT" in sent.document.data
    assert b"DTSTART;TZID=Europe/Moscow:20261127T090000" in sent.document.data
    assert person.last.text.startswith("✅ Вы записаны на приём")

    await app.deliver_pushes()
    push = next(m for m in person.bot_messages if (m.text or "").startswith("Вы записаны"))
    assert "терапевт Соколова М. А., 27 ноября 2026 (пт) в 09:00" in push.text
    assert push.buttons == ["Мои записи"]
    await person.press("Мои записи", message=push)
    assert person.last.text.startswith("Запись на приём")
    assert "Кабинет: 105" in person.last.text

    [visit] = await upcoming(app, PETROV_PHONE)
    assert visit.doctor_short == "Соколова М. А." and visit.when.endswith("в 09:00")


async def test_a_file_attached_to_the_visit(app: App) -> None:
    person = await petrov(app)
    await to_sokolova_calendar(person)
    await person.press("27")
    await person.press("09:00")
    await person.press("Записаться")
    await person.press("Прикрепить файл")
    assert "Пришлите направление или результаты обследований" in person.last.text
    await person.send("вот файл")
    assert "Здесь нужен файл" in person.last.text
    await person.send_document(b"not a picture", "notes.txt", mime_type="text/plain")
    assert "JPG, PNG или PDF" in person.last.text
    assert person.last.text.startswith("Прикрепить файл к записи")
    await person.send_document(png_bytes(), "napravlenie.png", mime_type="image/png")
    assert person.last.text.startswith("✅ Вы записаны на приём")
    assert "Файл «napravlenie.png» прикреплён к записи." in person.last.text
    assert "Прикреплённый файл: napravlenie.png" in person.last.text


# -- refusals ------------------------------------------------------------------------------


async def test_a_referral_only_specialty_without_a_referral_is_refused(app: App) -> None:
    person = await petrov(app)
    await person.press("Записаться к врачу")
    await person.press("Кардиолог (по направлению)")
    text = person.last.text
    assert text.startswith("Записаться к врачу")
    assert "⚠️ Для записи к кардиологу нужно направление терапевта." in text
    assert "Терапевт" in person.last.buttons


async def test_with_a_referral_the_cardiologist_shows_and_the_waitlist_is_offered(
    app: App,
) -> None:
    person = await anna(app)
    await person.press("Записаться к врачу")
    assert "Кардиолог (есть направление)" in person.last.buttons
    await person.press("Кардиолог (есть направление)")
    await person.press("Белов Андрей Николаевич, каб. 301")
    text = person.last.text
    # Every time of the first week is taken.
    assert "Ближайшее свободное время: 3 декабря 2026 (чт) в " in text
    assert ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"] in person.last.keyboard
    assert "27✗" in person.last.buttons and "30✗" in person.last.buttons
    assert "Сообщить, если появится время раньше" in person.last.buttons


async def test_one_visit_per_specialty(app: App) -> None:
    person = await anna(app)
    await person.press("Записаться к врачу")
    await person.press("Офтальмолог")
    text = person.last.text
    assert "⚠️ У вас уже есть запись к офтальмологу на 30 ноября 2026 (пн) в 10:00." in text
    assert "«Мои записи»" in text
    assert "Офтальмолог" in person.last.buttons  # the same window


async def test_a_day_without_free_time_is_refused(app: App) -> None:
    person = await petrov(app)
    await to_sokolova_calendar(person)
    await person.press("28✗")
    assert "⚠️ На 28 ноября 2026 (сб) свободного времени нет." in person.last.text
    assert "28✗" in person.last.buttons  # still the calendar
    await person.press("27")
    assert person.last.text.startswith("Свободное время на 27 ноября")


async def test_a_time_taken_between_showing_and_pressing(app: App) -> None:
    first = await petrov(app)
    await to_sokolova_calendar(first)
    await first.press("27")
    assert "10:00" in times(first)
    # Анна books 10:00 while the list is on Петров's screen.
    second = await anna(app)
    await to_sokolova_calendar(second)
    await second.press("27")
    await second.press("10:00")
    await second.press("Записаться")
    assert second.last.text.startswith("✅ Вы записаны на приём")

    await first.press("10:00")
    assert "⚠️ Это время только что заняли. Выберите другое время." in first.last.text
    assert first.last.text.startswith("Свободное время на 27 ноября")
    assert "10:00" not in times(first)

    # Taken between the confirmation screen and «Записаться»: the fresh list again.
    await first.press("10:20")
    assert first.last.text.startswith("Проверьте запись")
    assert app.runtime is not None
    someone = await principal(app, ANNA_PHONE)
    [anna_visit] = [v for v in await upcoming(app, ANNA_PHONE) if v.specialty_code == "therapist"]
    assert anna_visit.id is not None
    visit_id = anna_visit.id
    org = await organisation(app)
    day = anna_visit.starts_at.date()
    free = await service(app).run(
        lambda s: s.free_times(org, "therapist", anna_visit.doctor_id, day)
    )
    slot = next(t for t in free if t.time_text == "10:20")
    await service(app).run(lambda s: s.move(someone, visit_id, slot.slot_id))
    await first.press("Записаться")
    assert "⚠️ Это время только что заняли." in first.last.text
    assert first.last.text.startswith("Свободное время на 27 ноября")
    assert "10:20" not in times(first) and "10:00" in times(first)  # 10:00 freed by the move
    assert await upcoming(app, PETROV_PHONE) == []


# -- «Любой врач» ------------------------------------------------------------------------


async def test_any_doctor_shows_every_therapists_times(app: App) -> None:
    person = await petrov(app)
    await person.press("Записаться к врачу")
    await person.press("Терапевт")
    await person.press("Любой врач")
    text = person.last.text
    assert "Запись к врачу: терапевт, любой врач" in text
    assert re.search(r"Ближайшее свободное время: 26 ноября 2026 \(чт\) в 12:\d0, \w+ ", text)
    await person.press("27")
    labels = [b for b in person.last.buttons if " · " in b]
    assert "09:00 · Орлов И. П." in labels and "09:00 · Соколова М. А." in labels
    await person.press("09:00 · Орлов И. П.")
    assert "Врач: Орлов Игорь Петрович" in person.last.text
    await person.press("Записаться")
    assert "Кабинет: 107" in person.last.text
    [visit] = await upcoming(app, PETROV_PHONE)
    assert visit.doctor_short == "Орлов И. П."


# -- «Мои записи»: moving and cancelling ------------------------------------------------------


async def test_moving_a_visit_leaves_one_visit_at_the_new_time(app: App) -> None:
    person = await anna(app)
    await person.press("Мои записи")
    text = person.last.text
    assert "1. 30 ноября 2026 (пн) в 10:00 — офтальмолог Ким Е. В., кабинет 212" in text
    assert person.last.buttons == [
        "30 ноября (пн) 10:00 · офтальмолог Ким Е. В.",
        "Записаться к врачу",
        "Прошедшие записи",
        "Лист ожидания",
        "В меню",
    ]
    await person.press("30 ноября (пн) 10:00 · офтальмолог Ким Е. В.")
    assert person.last.text.startswith("Запись на приём")
    assert "Врач: Ким Елена Викторовна" in person.last.text
    assert person.last.buttons == [
        "Перенести",
        "Отменить",
        "Добавить в календарь",
        "Прикрепить файл",
        "Спросить врача",
        "К списку записей",
        "В меню",
    ]
    await person.press("Перенести")
    text = person.last.text
    assert "Перенос записи: сейчас вы записаны на 30 ноября 2026 (пн) в 10:00." in text
    assert "Запись к врачу: офтальмолог Ким Е. В." in text
    await person.press("Декабрь ›")
    await person.press("2")
    await person.press(times(person)[0])
    confirm = person.last.text
    assert confirm.startswith("Перенести запись?")
    assert "Сейчас: 30 ноября 2026 (пн) в 10:00" in confirm
    assert "Дата и время: 2 декабря 2026 (ср) в 09:" in confirm
    assert person.last.buttons == ["Перенести", "Назад"]
    await person.press("Перенести")
    assert person.last.text.startswith("✅ Запись перенесена")
    [visit] = await upcoming(app, ANNA_PHONE)
    assert visit.when.startswith("2 декабря 2026 (ср) в 09:")
    # The old time is free for others.
    org = await organisation(app)
    free = await service(app).run(
        lambda s: s.free_times(org, "ophthalmologist", visit.doctor_id, date(2026, 11, 30))
    )
    assert "10:00" in [t.time_text for t in free]
    await person.press("Мои записи")
    assert "2 декабря 2026 (ср)" in person.last.text and "30 ноября" not in person.last.text


async def test_cancelling_asks_first(app: App) -> None:
    person = await anna(app)
    await person.press("Мои записи")
    await person.press("30 ноября (пн) 10:00 · офтальмолог Ким Е. В.")
    await person.press("Отменить")
    assert person.last.text.startswith("Отменить запись?")
    assert "Дата и время: 30 ноября 2026 (пн) в 10:00" in person.last.text
    assert person.last.buttons == ["Да, отменить", "Нет"]
    await person.press("Нет")
    assert person.last.text.startswith("Запись на приём")
    assert len(await upcoming(app, ANNA_PHONE)) == 1
    await person.press("Отменить")
    await person.press("Да, отменить")
    assert person.last.text.startswith("Запись отменена")
    assert "офтальмолог Ким Е. В., 30 ноября 2026 (пн) в 10:00." in person.last.text
    assert await upcoming(app, ANNA_PHONE) == []
    await person.press("К списку записей")
    assert "Предстоящих записей нет." in person.last.text
    await person.press("Прошедшие записи")
    assert "30 ноября 2026 (пн) в 10:00 — офтальмолог Ким Е. В., кабинет 212 — отменена" in (
        person.last.text
    )


async def test_the_calendar_file_from_my_visits(app: App) -> None:
    person = await anna(app)
    await person.press("Мои записи")
    await person.press("30 ноября (пн) 10:00 · офтальмолог Ким Е. В.")
    await person.press("Добавить в календарь")
    sent = person.bot_messages[-2]
    assert sent.document is not None and sent.document.name == "priyom-2026-11-30-1000.ics"
    assert b"SUMMARY:" in sent.document.data
    assert person.last.text.startswith("Запись на приём")


# -- the waitlist -----------------------------------------------------------------------------


async def test_joining_the_waitlist(app: App) -> None:
    person = await anna(app)
    await person.press("Записаться к врачу")
    await person.press("Кардиолог (есть направление)")
    await person.press("Белов Андрей Николаевич, каб. 301")
    await person.press("Сообщить, если появится время раньше")
    assert person.last.buttons[:2] == [
        "Только к врачу Белов А. Н.",
        "К любому врачу: кардиолог",
    ]
    await person.press("Только к врачу Белов А. Н.")
    assert "Врач: кардиолог Белов А. Н." in person.last.text
    assert person.last.buttons[:2] == ["В ближайшие 2 недели", "В ближайший месяц"]
    await person.send("на следующей неделе")
    assert "⚠️ Не получилось прочитать даты." in person.last.text
    await person.send("03.12.2026–01.12.2026")
    assert "⚠️ Проверьте даты: начало периода не может быть позже его конца." in person.last.text
    await person.send("31.11.2026–03.12.2026")
    assert "⚠️ Такой даты нет в календаре." in person.last.text
    await person.send("01.11.2026–03.12.2026")
    assert "не раньше сегодняшнего дня" in person.last.text
    await person.send("27.11.2026–03.12.2026")
    text = person.last.text
    assert text.startswith("✅ Вы в листе ожидания")
    assert "Период: с 27.11.2026 по 03.12.2026" in text
    assert "придержим это время для вас 15 минут" in text

    # The same doctor again: the service's reason.
    await person.press("В меню")
    await person.press("Записаться к врачу")
    await person.press("Кардиолог (есть направление)")
    await person.press("Белов Андрей Николаевич, каб. 301")
    await person.press("Сообщить, если появится время раньше")
    await person.press("Только к врачу Белов А. Н.")
    await person.press("В ближайшие 2 недели")
    assert "⚠️ Вы уже в листе ожидания к этому врачу." in person.last.text

    await person.press("В меню")
    await person.press("Мои записи")
    await person.press("Лист ожидания")
    assert "1. кардиолог, Белов А. Н.: с 27.11.2026 по 03.12.2026" in person.last.text
    await person.press("Удалить из листа ожидания: 1. кардиолог")
    assert "Заявка удалена из листа ожидания." in person.last.text
    assert "В листе ожидания ничего нет." in person.last.text


async def test_the_waitlist_for_any_doctor_over_a_month(app: App) -> None:
    person = await petrov(app)
    await person.press("Записаться к врачу")
    await person.press("Терапевт")
    await person.press("Любой врач")
    await person.press("Сообщить, если появится время раньше")
    assert "Врач: терапевт, любой врач" in person.last.text
    await person.press("В ближайший месяц")
    assert "Период: с 26.11.2026 по 26.12.2026" in person.last.text


# -- push buttons ----------------------------------------------------------------------------


async def _book_petrov_27_0900(app: App, person: SandboxUser) -> None:
    await to_sokolova_calendar(person)
    await person.press("27")
    await person.press("09:00")
    await person.press("Записаться")


async def test_the_reminders_cancel_button(app: App) -> None:
    person = await petrov(app)
    await _book_petrov_27_0900(app, person)
    app.clock.advance(hours=6, minutes=1)  # 26.11 18:01 МСК: the day before
    await app.deliver_pushes()
    await sign_in_again(app, person)  # the session ended in the six hours
    reminder = next(m for m in person.bot_messages if "Напоминаем: завтра" in (m.text or ""))
    assert reminder.buttons == ["Перенести", "Отменить"]
    await person.press("Отменить", message=reminder)
    assert person.last.text.startswith("Отменить запись?")
    assert "Дата и время: 27 ноября 2026 (пт) в 09:00" in person.last.text
    await person.press("Да, отменить")
    assert person.last.text.startswith("Запись отменена")
    assert await upcoming(app, PETROV_PHONE) == []
    # The shortly-before reminder never comes.
    app.clock.advance(hours=13)
    await app.deliver_pushes()
    assert not any("Напоминаем: сегодня" in (m.text or "") for m in person.bot_messages)


async def test_the_reminders_move_button(app: App) -> None:
    person = await petrov(app)
    await _book_petrov_27_0900(app, person)
    app.clock.advance(hours=6, minutes=1)
    await app.deliver_pushes()
    await sign_in_again(app, person)
    reminder = next(m for m in person.bot_messages if "Напоминаем: завтра" in (m.text or ""))
    await person.press("Перенести", message=reminder)
    text = person.last.text
    assert "Перенос записи: сейчас вы записаны на 27 ноября 2026 (пт) в 09:00." in text
    await person.press("30")
    await person.press("09:00")
    assert person.last.text.startswith("Перенести запись?")
    await person.press("Перенести")
    assert person.last.text.startswith("✅ Запись перенесена")
    [visit] = await upcoming(app, PETROV_PHONE)
    assert visit.when == "30 ноября 2026 (пн) в 09:00"


async def _offer_to_petrov(app: App) -> SandboxUser:
    """Петров waits for Соколова; Анна books her 27.11 09:00 and cancels: the offer comes."""
    person = await petrov(app)
    await to_sokolova_calendar(person)
    await person.press("Сообщить, если появится время раньше")
    await person.press("Только к врачу Соколова М. А.")
    await person.send("27.11.2026–27.11.2026")
    assert person.last.text.startswith("✅ Вы в листе ожидания")
    other = await anna(app)
    await to_sokolova_calendar(other)
    await other.press("27")
    await other.press("09:00")
    await other.press("Записаться")
    await other.press("Мои записи")
    await other.press(re.compile("27 ноября"))
    await other.press("Отменить")
    await other.press("Да, отменить")
    await app.deliver_pushes()
    return person


async def test_the_offer_from_the_waitlist(app: App) -> None:
    person = await _offer_to_petrov(app)
    offer = next(m for m in person.bot_messages if "Освободилось время" in (m.text or ""))
    assert offer.buttons == ["Записаться"]
    await person.press("Записаться", message=offer)
    text = person.last.text
    assert text.startswith("Освободилось время")
    assert "Дата и время: 27 ноября 2026 (пт) в 09:00" in text
    assert "Мы придерживаем это время для вас до 12:15." in text
    await person.press("Записаться")
    assert person.last.text.startswith("✅ Вы записаны на приём")
    [visit] = await upcoming(app, PETROV_PHONE)
    assert visit.when == "27 ноября 2026 (пт) в 09:00"


async def test_an_expired_offer_says_so(app: App) -> None:
    person = await _offer_to_petrov(app)
    offer = next(m for m in person.bot_messages if "Освободилось время" in (m.text or ""))
    app.clock.advance(minutes=16)
    await person.press("Записаться", message=offer)
    text = person.last.text
    assert "⚠️ Время, которое мы придерживали для вас, уже предложено следующему" in text
    assert "Записаться" not in person.last.buttons
    assert await upcoming(app, PETROV_PHONE) == []


async def test_forged_push_arguments_show_a_refusal_never_data(app: App) -> None:
    [anna_visit] = await upcoming(app, ANNA_PHONE)
    person = await petrov(app)
    message = person.last.message_id
    for action in ("visit", "visit_cancel", "visit_move", "rebook"):
        await app.sandbox.press_callback(person.id, message, f"push:{action}:{anna_visit.id}")
        await app.settle()
        assert "Такой записи нет." in person.last.text, action
        assert "Ким" not in person.last.text and "212" not in person.last.text
    await app.sandbox.press_callback(person.id, message, "push:offer:999999")
    await app.settle()
    assert "Такого предложения нет." in person.last.text
    await app.sandbox.press_callback(person.id, message, "push:visit:abc")
    await app.settle()
    assert "Такой записи нет." in person.alerts
    await app.sandbox.press_callback(person.id, message, f"push:offer:{'9' * 30}")
    await app.settle()
    assert "Такого предложения нет." in person.alerts


async def test_a_push_button_asks_to_sign_in_first(app: App) -> None:
    person = await petrov(app)
    await _book_petrov_27_0900(app, person)
    await app.deliver_pushes()
    push = next(m for m in person.bot_messages if (m.text or "").startswith("Вы записаны"))
    await person.send("/logout")
    await person.press("Мои записи", message=push)
    assert "Чтобы открыть запись на приём, войдите в учётную запись." in person.alerts
    assert "Введите логин от Госуслуг" in person.last.text


async def test_rebook_after_the_clinic_cancelled_the_day(app: App) -> None:
    from services.booking import schedule

    person = await petrov(app)
    await _book_petrov_27_0900(app, person)
    [visit] = await upcoming(app, PETROV_PHONE)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        await schedule.cancel_day(
            uow,
            app.runtime.ctx,
            visit.doctor_id,
            visit.starts_at.date(),
            "врач на больничном",
            operator="test",
        )
        await uow.commit()
    await app.deliver_pushes()
    notice = next(m for m in person.bot_messages if "врач на больничном" in (m.text or ""))
    await person.press("Выбрать другое время", message=notice)
    text = person.last.text
    assert "Запись к врачу: терапевт Соколова М. А." in text
    assert "27✗" in person.last.buttons


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_booking_and_cancelling_on_postgres(pg_app: App) -> None:
    person = await petrov(pg_app)
    await _book_petrov_27_0900(pg_app, person)
    assert person.last.text.startswith("✅ Вы записаны на приём")
    await person.press("Мои записи")
    await person.press(re.compile("27 ноября"))
    await person.press("Отменить")
    await person.press("Да, отменить")
    assert person.last.text.startswith("Запись отменена")
    assert await upcoming(pg_app, PETROV_PHONE) == []
