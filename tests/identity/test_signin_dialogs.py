"""Signing in, as a person does it in the chat."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete

from storage.models import FsmRecord
from tests.support.bot import (
    ANNA_PHONE,
    PASSWORD,
    PETROV_PHONE,
    App,
    assert_no_secret,
    png_bytes,
)
from tgsandbox import SandboxUser


async def to_password(app: App, user: SandboxUser, login: str = ANNA_PHONE) -> None:
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(login)
    assert "Введите пароль" in user.last.text


async def to_factor(app: App, user: SandboxUser) -> None:
    await to_password(app, user)
    await user.send(PASSWORD)
    await user.press("Поделиться номером")
    assert "Как вы хотите получить код" in user.last.text


async def audit_actions(app: App, action: str) -> list[str]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        return [e.outcome for e in await uow.core.audit.all(action)]


async def test_happy_path_with_sms_code(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    assert "электронной медицинской карты" in anna.last.text
    assert anna.last.buttons == ["Войти через Госуслуги"]
    await anna.press("Войти через Госуслуги")
    assert "Введите логин" in anna.last.text
    await anna.send("+7 999 000-00-01")
    assert "Введите пароль" in anna.last.text
    await anna.send(PASSWORD)
    assert anna.current_reply_keyboard() == ["📱 Поделиться номером"]
    await anna.press("Поделиться номером")
    assert "Как вы хотите получить код" in anna.last.text
    await anna.press("Код из SMS")
    assert app.sms.sent[-1][0] == ANNA_PHONE
    assert "+7 *** ***-**-01" in anna.last.text
    await anna.send(app.last_sms_code())
    assert "Главное меню" in anna.last.text
    assert "Здравствуйте, Анна Сергеевна!" in anna.last.text
    assert anna.last.buttons[:4] == [
        "Моя медкарта",
        "Записаться к врачу",
        "Мои записи",
        "Заявление на ЭМК",
    ]
    assert anna.last.buttons[-2:] == ["Сменить пароль", "Выйти"]
    assert await audit_actions(app, "sign_in") == ["ok"]


async def test_password_message_is_deleted_and_never_shown(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    before = len(anna.messages)
    await anna.send(PASSWORD)
    assert_no_secret(anna, PASSWORD)
    assert all(m.text != PASSWORD for m in anna.messages)
    assert len([m for m in anna.messages if not m.from_bot]) <= before
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        for entry in await uow.core.audit.all():
            assert PASSWORD not in str(entry.details)


async def test_happy_path_with_authenticator_code(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из приложения")
    assert "приложение для кодов" in anna.last.text
    assert "Отправить код повторно" not in anna.last.buttons
    await anna.send(app.totp_now())
    assert "Главное меню" in anna.last.text


async def test_authenticator_code_is_accepted_once(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из приложения")
    code = app.totp_now()
    await anna.send(code)
    await anna.send("/logout")
    assert "Вы вышли из учётной записи." in anna.bot_texts()
    await anna.press("Войти через Госуслуги")
    await anna.send(ANNA_PHONE)
    await anna.send(PASSWORD)
    # the phone is known now: straight to the choice of the code
    await anna.press("Код из приложения")
    await anna.send(code)
    assert "Этот код уже использован" in anna.last.text
    app.clock.advance(seconds=30)
    await anna.send(app.totp_now())
    assert "Главное меню" in anna.last.text


async def test_account_without_authenticator_goes_straight_to_sms(app: App) -> None:
    petrov = app.user(2002, PETROV_PHONE, "Сергей")
    await to_password(app, petrov, PETROV_PHONE)
    await petrov.send(PASSWORD)
    await petrov.press("Поделиться номером")
    assert "SMS на номер +7 *** ***-**-02" in petrov.last.text
    await petrov.send(app.last_sms_code())
    assert "Здравствуйте, Сергей Иванович!" in petrov.last.text


async def test_logins_in_any_usual_spelling(app: App) -> None:
    for number, login in enumerate(("89990000001", "anna.ivanova@example.ru", "112-233-445 95")):
        user = app.user(3000 + number)
        await to_password(app, user, login)


async def test_unknown_and_malformed_logins_are_asked_again(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.send("абракадабра")
    assert "Введите логин" in anna.last.text and "⚠️" in anna.last.text
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in anna.last.text


async def test_three_wrong_passwords_lock_the_account(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    await anna.send("Wrong-Passw0rd1")
    assert "Неверный логин или пароль. Осталось попыток: 2." in anna.last.text
    await anna.send("Wrong-Passw0rd2")
    assert "Осталось попыток: 1." in anna.last.text
    await anna.send("Wrong-Passw0rd3")
    assert "Учётная запись заблокирована" in anna.last.text
    assert "Восстановить доступ" in anna.last.buttons
    for wrong in ("Wrong-Passw0rd1", "Wrong-Passw0rd2", "Wrong-Passw0rd3"):
        assert_no_secret(anna, wrong)
    assert await audit_actions(app, "account.lock") == ["ok"]
    # a new attempt with the right password is refused too (told only after the password)
    await anna.press("Другой логин")
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in anna.last.text
    await anna.send(PASSWORD)
    assert "Учётная запись заблокирована" in anna.last.text
    # and the locked account's chats are told by push (none bound yet: the outbox is empty)
    await app.deliver_pushes()


async def test_lock_is_pushed_to_a_chat_already_bound(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    stranger = app.user(4004, "+79995550000", "Чужой")
    await to_password(app, stranger)
    for n in range(3):
        await stranger.send(f"Wrong-Passw0rd{n}")
    await app.deliver_pushes()
    assert any("заблокирована" in (m.text or "") for m in anna.messages[-2:])
    # Anna's session ended with the lock: her next click asks to sign in
    await anna.send("/menu")
    assert "Введите логин" in anna.last.text


async def test_expired_code_and_a_new_one(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из SMS")
    old = app.last_sms_code()
    app.clock.advance(seconds=301)
    await anna.send(old)
    assert "Срок действия кода истёк" in anna.last.text
    await anna.press("Отправить код повторно")
    new = app.last_sms_code()
    await anna.send(new)
    assert "Главное меню" in anna.last.text


async def test_resend_has_a_cooldown_and_voids_the_old_code(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из SMS")
    old = app.last_sms_code()
    await anna.press("Отправить код повторно")
    assert "Новый код можно запросить через 60 с" in anna.last.text
    assert len(app.sms.sent) == 1
    app.clock.advance(seconds=61)
    await anna.press("Отправить код повторно")
    assert len(app.sms.sent) == 2
    new = app.last_sms_code()
    if new != old:
        await anna.send(old)
        assert "больше не действует" in anna.last.text
    await anna.send(new)
    assert "Главное меню" in anna.last.text


async def test_wrong_codes_count_down_then_the_code_is_dead(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из SMS")
    code = app.last_sms_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await anna.send(wrong)
    assert "Неверный код. Осталось попыток: 4." in anna.last.text
    await anna.send("12 34")
    assert "6 цифр" in anna.last.text
    for _ in range(4):
        await anna.send(wrong)
    assert "исчерпаны" in anna.last.text
    await anna.send(code)
    assert "исчерпаны" in anna.last.text


async def test_no_access_to_phone_sends_a_code_to_email(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из SMS")
    await anna.press("Нет доступа к телефону")
    assert "на электронную почту a***@example.ru" in anna.last.text
    assert app.mail.sent[-1][0] == "anna.ivanova@example.ru"
    await anna.send(app.last_mail_code())
    assert "Главное меню" in anna.last.text


async def test_phone_of_another_person_is_refused_and_audited(app: App) -> None:
    anna = app.user(5005, phone="+79997776655")
    await to_password(app, anna)
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    assert "не совпадает" in anna.last.text
    assert "Введите логин" in anna.last.text
    assert not app.sms.sent
    assert await audit_actions(app, "sign_in.phone") == ["mismatch"]


async def test_someone_elses_contact_or_typed_number_is_not_accepted(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    await anna.send(PASSWORD)
    await anna.send(ANNA_PHONE)
    assert "Не вводите номер вручную" in anna.last.text
    await anna.share_contact(phone=ANNA_PHONE, own=False)
    assert "свой номер" in anna.last.text
    await anna.press("Поделиться номером")
    assert "Как вы хотите получить код" in anna.last.text


async def test_session_ends_after_idle_minutes(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    app.clock.advance(minutes=29)
    await anna.press("История входов")
    assert "История входов" in anna.last.text
    app.clock.advance(minutes=31)
    await anna.press("Назад")
    assert "Сеанс завершён из-за бездействия" in "\n".join(anna.bot_texts()[-2:])
    assert "Введите логин" in anna.last.text
    assert "ok" in await audit_actions(app, "session.expire")


async def test_logout_ends_the_session(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    menu = anna.last
    await anna.press("Выйти")
    # The start screen says so at its top; the button gets no toast (answered once).
    assert anna.last.text.startswith("Вы вышли из учётной записи.")
    assert "Войти через Госуслуги" in anna.last.buttons
    # the menu became the start screen
    assert anna.last.message_id == menu.message_id
    await anna.send("/menu")
    assert "Введите логин" in anna.last.text
    assert await audit_actions(app, "sign_out") == ["ok"]


async def test_menu_and_start_for_a_signed_in_person(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    await anna.send("/start")
    assert "Главное меню" in anna.last.text
    await anna.send("/menu")
    assert "Главное меню" in anna.last.text


async def test_login_history_shows_the_last_ten_attempts(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    await anna.send("Wrong-Passw0rd")
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    await anna.send(app.last_sms_code())
    await anna.press("История входов")
    text = anna.last.text
    assert "26.11.2026 12:00 — успешный вход" in text
    assert "26.11.2026 12:00 — неверный пароль" in text
    for _ in range(11):
        await anna.send("/logout")
        await app.sign_in(anna)
    await anna.press("История входов")
    assert len(re.findall(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d — ", anna.last.text, re.M)) == 10


async def test_change_password_ends_other_sessions(app: App) -> None:
    phone_chat = app.user(6001)
    await app.sign_in(phone_chat)
    desktop = app.user(6002)
    await app.sign_in(desktop)
    await desktop.press("Сменить пароль")
    assert "Введите текущий пароль" in desktop.last.text
    await desktop.send("Wrong-Passw0rd")
    assert "Осталось попыток: 2" in desktop.last.text
    await desktop.send(PASSWORD)
    assert "SMS на номер" in desktop.last.text
    await desktop.send(app.last_sms_code())
    assert "Придумайте новый пароль" in desktop.last.text
    await desktop.send("short")
    assert "⚠️" in desktop.last.text and "8" in desktop.last.text
    await desktop.send("New-Passw0rd")
    assert "Пароль изменён." in desktop.last.text
    assert "Завершено других сеансов: 1." in desktop.last.text
    for secret in (PASSWORD, "New-Passw0rd", "Wrong-Passw0rd", "short"):
        assert_no_secret(desktop, secret)
    await app.deliver_pushes()
    assert any("Пароль вашей учётной записи изменён" in (m.text or "") for m in phone_chat.messages)
    await phone_chat.press("История входов")
    assert "войдите" in "\n".join(phone_chat.bot_texts()[-2:]).lower()
    await desktop.press("В главное меню")
    assert "Главное меню" in desktop.last.text


async def test_recovery_unlocks_with_a_code_to_email(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    for n in range(3):
        await anna.send(f"Wrong-Passw0rd{n}")
    await anna.press("Восстановить доступ")
    assert "@" not in anna.last.text
    await anna.press("Отправить код")
    assert "Если такая учётная запись есть, мы отправили код на её почту" in anna.last.text
    assert app.mail.sent[-1][0] == "anna.ivanova@example.ru"
    await anna.send(app.last_mail_code())
    assert "Придумайте новый пароль" in anna.last.text
    await anna.send("alllowercase1")
    assert "заглавн" in anna.last.text
    await anna.send("Recovered-Passw0rd")
    assert "учётная запись разблокирована" in anna.last.text
    assert_no_secret(anna, "Recovered-Passw0rd")
    await anna.press("Войти")
    await anna.send(ANNA_PHONE)
    await anna.send("Recovered-Passw0rd")
    assert "Как вы хотите получить код" in anna.last.text or anna.current_reply_keyboard()
    assert await audit_actions(app, "account.unlock") == ["ok"]


async def test_forgotten_password_from_the_login_screen(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.press("Восстановить доступ")
    assert "Введите логин" in anna.last.text
    await anna.send("112-233-445 95")
    await anna.press("Отправить код")
    await anna.send(app.last_mail_code())
    await anna.send("Recovered-Passw0rd")
    assert "Пароль изменён" in anna.last.text


@pytest.mark.parametrize(
    "step", ["welcome", "login", "password", "phone", "factor", "code", "menu"]
)
async def test_unexpected_input_at_every_step(app: App, step: str) -> None:
    anna = app.user()
    await anna.send("/start")
    steps = ["welcome", "login", "password", "phone", "factor", "code", "menu"]
    actions = {
        "login": lambda: anna.press("Войти через Госуслуги"),
        "password": lambda: anna.send(ANNA_PHONE),
        "phone": lambda: anna.send(PASSWORD),
        "factor": lambda: anna.press("Поделиться номером"),
        "code": lambda: anna.press("Код из SMS"),
        "menu": lambda: anna.send(app.last_sms_code()),
    }
    for name in steps[1 : steps.index(step) + 1]:
        await actions[name]()
    question = anna.last.text
    await anna.send_sticker()
    assert anna.last.text.endswith(question.split("\n")[-1]) or question in anna.last.text
    assert any(
        hint in "\n".join(anna.bot_texts()[-2:])
        for hint in ("ответ текстом", "воспользуйтесь кнопками", "Поделиться номером")
    )
    await anna.send_photo(png_bytes())
    await anna.send("/unknown")
    await anna.send("я" * 4096)
    assert question.split("\n")[0] in anna.last.text or step == "phone"
    # the flow still goes on from the same step
    if step in actions and step != "menu":
        assert anna.last is not None


async def test_long_text_and_unknown_command_get_a_russian_answer(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.send("я" * 4096)
    assert "слишком длинное" in anna.last.text
    await anna.send("/foo")
    assert "Такой команды нет" in anna.last.text
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in anna.last.text


async def test_stale_button_gets_a_short_answer_and_the_menu(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    # the bot comes back with another (empty) conversation storage
    await app.restart()
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        await uow.session.execute(delete(FsmRecord))
        await uow.commit()
    await anna.press("Восстановить доступ")
    assert "Эта кнопка устарела. Вот актуальное меню." in anna.alerts
    assert "Войти через Госуслуги" in anna.last.buttons


async def test_restart_in_the_middle_of_sign_in_continues(app: App) -> None:
    anna = app.user()
    await to_password(app, anna)
    await app.restart()
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    await app.restart()
    await anna.send(app.last_sms_code())
    assert "Главное меню" in anna.last.text


@pytest.mark.redis
async def test_restart_in_the_middle_of_sign_in_with_redis(redis_app: App) -> None:
    app = redis_app
    anna = app.user()
    await to_password(app, anna)
    await app.restart()
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await app.restart()
    await anna.press("Код из SMS")
    await anna.send(app.last_sms_code())
    assert "Главное меню" in anna.last.text


@pytest.mark.postgres
async def test_sign_in_on_postgres(pg_app: App) -> None:
    anna = pg_app.user()
    await to_password(pg_app, anna)
    await pg_app.restart()
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    await anna.send(pg_app.last_sms_code())
    assert "Главное меню" in anna.last.text


async def test_authenticator_codes_have_five_tries_too(app: App) -> None:
    anna = app.user()
    await to_factor(app, anna)
    await anna.press("Код из приложения")
    wrong = f"{(int(app.totp_now()) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await anna.send(wrong)
        assert "Неверный код из приложения" in anna.last.text
    await anna.send(app.totp_now())
    assert "Попытки ввода кода из приложения исчерпаны" in anna.last.text
    await anna.press("Отмена")
    assert "Как вы хотите получить код" in anna.last.text
    await anna.press("Код из приложения")
    await anna.send(app.totp_now())
    assert "Главное меню" in anna.last.text


async def test_menu_after_an_idle_session_says_why_it_asks_to_sign_in(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    app.clock.advance(minutes=31)
    await anna.send("/menu")
    assert "Сеанс завершён из-за бездействия" in anna.bot_texts()[-2]
    assert "Введите логин" in anna.last.text
    # a fresh /start later greets as usual
    await anna.send("/start")
    assert "Войти через Госуслуги" in anna.last.buttons
