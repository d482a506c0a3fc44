"""The second factor and the sign-in as an attacker, or a confused person, meets them."""

from __future__ import annotations

import pytest

from tests.support.bot import (
    ANNA_PHONE,
    KUZNETSOV_PHONE,
    PASSWORD,
    PETROV_PHONE,
    SMIRNOVA_PHONE,
    App,
    assert_no_secret,
)
from tgsandbox import SandboxUser

LOCKED_CODES = "Ввод кодов подтверждения временно заблокирован"
SAME_ANSWER = "Если такая учётная запись есть, мы отправили код на её почту"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def to_password(user: SandboxUser, login: str = ANNA_PHONE) -> None:
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(login)
    assert "Введите пароль" in user.last.text


async def to_factor(user: SandboxUser) -> None:
    await to_password(user)
    await user.send(PASSWORD)
    await user.press("Поделиться номером")
    assert "Как вы хотите получить код" in user.last.text


async def outcomes(app: App, action: str) -> list[str]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        return [e.outcome for e in await uow.core.audit.all(action)]


async def forge(user: SandboxUser, widget_id: str) -> None:
    """Press a button the window does not show: another widget's id in the callback data."""
    stored = user.sandbox.chats[user.id].messages[user.last.message_id]
    assert stored.inline_markup is not None
    data = stored.inline_markup["inline_keyboard"][0][0]["callback_data"]
    intent, _, _widget = data.partition("\x1d")
    await user.sandbox.press_callback(user.id, stored.message_id, f"{intent}\x1d{widget_id}")


# -- one limit over all codes of an account ------------------------------------------


async def test_attacker_cycling_sms_and_email_codes_is_blocked_after_ten_wrong_codes(
    app: App,
) -> None:
    anna = app.user()
    await to_factor(anna)
    await anna.press("Код из SMS")
    for _ in range(5):
        await anna.send(wrong(app.last_sms_code()))
    await anna.press("Нет доступа к телефону")
    mail_code = app.last_mail_code()
    for _ in range(4):
        await anna.send(wrong(mail_code))
    assert "Неверный код" in anna.last.text
    await anna.send(wrong(mail_code))
    assert LOCKED_CODES in anna.last.text
    # the right code is refused now, and no new code goes out
    await anna.send(mail_code)
    assert LOCKED_CODES in anna.last.text
    sms_before = len(app.sms.sent)
    await anna.press("Отмена")
    await anna.press("Код из SMS")
    assert LOCKED_CODES in anna.last.text
    assert len(app.sms.sent) == sms_before
    assert await outcomes(app, "sign_in.second_factor") == ["locked"]
    assert "blocked" in await outcomes(app, "sign_in.code")
    assert await outcomes(app, "sign_in") == []


async def test_owner_is_told_by_push_sms_and_email_when_codes_are_blocked(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    stranger = app.user(4004, "+79995550000", "Чужой")
    await to_password(stranger)
    await stranger.send(PASSWORD)  # the password leaked
    await stranger.share_contact(phone="+79995550000")
    assert "не совпадает" in stranger.last.text
    # through recovery the stranger needs no phone: guess the e-mail codes instead
    await stranger.press("Восстановить доступ")
    await stranger.send(ANNA_PHONE)
    for _ in range(2):
        await stranger.press("Отправить код")
        for _ in range(5):
            await stranger.send(wrong(app.last_mail_code()))
        app.clock.advance(seconds=61)
    assert LOCKED_CODES in stranger.last.text
    await app.deliver_pushes()
    assert any("Ввод кодов подтверждения" in (m.text or "") for m in anna.messages[-2:])
    assert "Ввод кодов подтверждения" in app.sms.sent[-1][1]
    assert app.sms.sent[-1][0] == ANNA_PHONE
    assert app.mail.sent[-1][0] == "anna.ivanova@example.ru"
    assert "Ввод кодов подтверждения" in app.mail.sent[-1][2]


async def test_authenticator_tries_reset_by_cancel_still_count_toward_the_account(
    app: App,
) -> None:
    anna = app.user()
    await to_factor(anna)
    await anna.press("Код из приложения")
    bad = wrong(app.totp_now())
    for _ in range(5):
        await anna.send(bad)
    await anna.send(bad)
    assert "Попытки ввода кода из приложения исчерпаны" in anna.last.text
    await anna.press("Отмена")
    await anna.press("Код из приложения")
    for _ in range(5):
        await anna.send(bad)
    assert LOCKED_CODES in anna.last.text
    await anna.press("Отмена")
    await anna.press("Код из приложения")
    await anna.send(app.totp_now())
    assert LOCKED_CODES in anna.last.text
    assert "Главное меню" not in anna.last.text
    assert "totp_exhausted" in await outcomes(app, "sign_in.code")
    # an hour later the codes work again
    app.clock.advance(minutes=61)
    await anna.send(app.totp_now())
    assert "Главное меню" in anna.last.text


async def test_codes_work_again_after_the_block_ends(app: App) -> None:
    anna = app.user()
    await to_factor(anna)
    await anna.press("Код из SMS")
    for _ in range(5):
        await anna.send(wrong(app.last_sms_code()))
    await anna.press("Нет доступа к телефону")
    for _ in range(5):
        await anna.send(wrong(app.last_mail_code()))
    assert LOCKED_CODES in anna.last.text
    app.clock.advance(minutes=59)
    await anna.press("Отправить код повторно")
    assert LOCKED_CODES in anna.last.text
    app.clock.advance(minutes=2)
    await anna.press("Отправить код повторно")
    await anna.send(app.last_mail_code())
    assert "Главное меню" in anna.last.text


# -- passwords and recovery from one Telegram account -----------------------------------


async def test_password_guesses_spread_over_four_accounts_are_stopped(app: App) -> None:
    guesser = app.user(7007, "+79995550001", "Гость")
    await guesser.send("/start")
    await guesser.press("Войти через Госуслуги")
    for login in (ANNA_PHONE, PETROV_PHONE, SMIRNOVA_PHONE, KUZNETSOV_PHONE):
        await guesser.send(login)
        for n in range(2):
            await guesser.send(f"Wrong-Passw0rd{n}")
        await guesser.press("Другой логин")
    text = guesser.last.text
    assert "Введите логин" in text
    # 8 guesses were tried: the 6th and later were refused without being checked
    assert await outcomes(app, "sign_in.password") == ["wrong_password"] * 5 + ["throttled"] * 3
    await guesser.send(ANNA_PHONE)
    await guesser.send(PASSWORD)
    assert "Слишком много неверных попыток входа" in guesser.last.text
    app.clock.advance(minutes=61)
    await guesser.send(PASSWORD)
    assert guesser.current_reply_keyboard() == ["📱 Поделиться номером"]


async def test_recovery_codes_are_throttled_per_login(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.press("Восстановить доступ")
    await anna.send(ANNA_PHONE)
    for _ in range(3):
        await anna.press("Отправить код")
        assert SAME_ANSWER in anna.last.text
        app.clock.advance(seconds=61)
    await anna.press("Отправить код повторно")
    assert "Слишком много запросов на восстановление доступа" in anna.last.text
    assert len(app.mail.sent) == 3
    assert await outcomes(app, "sign_in.recovery") == ["throttled"]


async def test_recovery_codes_are_throttled_per_telegram_account(app: App) -> None:
    prober = app.user(7008, "+79995550002", "Гость")
    await prober.send("/start")
    await prober.press("Войти через Госуслуги")
    logins = [ANNA_PHONE, PETROV_PHONE, SMIRNOVA_PHONE, KUZNETSOV_PHONE, "+79990000777"]
    for login in logins:
        await prober.press("Восстановить доступ")
        await prober.send(login)
        await prober.press("Отправить код")
        assert SAME_ANSWER in prober.last.text
        await prober.press("Отмена")
    await prober.press("Восстановить доступ")
    await prober.send("+79990000778")
    await prober.press("Отправить код")
    assert "Слишком много запросов на восстановление доступа" in prober.last.text


# -- what the answers do not tell ---------------------------------------------------------


async def test_unknown_login_gets_the_answers_of_a_wrong_password(app: App) -> None:
    real, unknown = app.user(7101), app.user(7102)
    answers: list[list[str]] = []
    for user, login in ((real, ANNA_PHONE), (unknown, "+79990000999")):
        await to_password(user, login)
        seen = []
        for n in range(4):
            await user.send(f"Wrong-Passw0rd{n}")
            seen.append(user.last.text)
        await user.press("Другой логин")
        await user.send(login)
        await user.send(PASSWORD)
        seen.append(user.last.text)
        answers.append(seen)
    assert answers[0] == answers[1]
    assert "Неверный логин или пароль. Осталось попыток: 2." in answers[0][0]
    assert "Учётная запись заблокирована" in answers[0][2]
    assert "Учётная запись заблокирована" in answers[0][4]
    assert "не найдена" not in "\n".join(unknown.bot_texts())


async def test_recovery_of_an_unknown_login_looks_like_that_of_a_real_one(app: App) -> None:
    screens: list[list[str]] = []
    for user_id, login in ((7201, ANNA_PHONE), (7202, "+79990000999")):
        user = app.user(user_id)
        await user.send("/start")
        await user.press("Войти через Госуслуги")
        await user.press("Восстановить доступ")
        await user.send(login)
        seen = [user.last.text]
        await user.press("Отправить код")
        seen.append(user.last.text)
        for _ in range(6):
            await user.send("000000" if login != ANNA_PHONE else wrong(app.last_mail_code()))
            seen.append(user.last.text)
        await user.press("Отправить код повторно")
        seen.append(user.last.text)
        screens.append(seen)
    assert screens[0] == screens[1]
    assert SAME_ANSWER in screens[0][1]
    assert all("@" not in text for text in screens[0])
    assert len(app.mail.sent) == 1  # to the real account only


async def test_cancel_from_forgotten_password_returns_to_the_password_step(app: App) -> None:
    anna = app.user()
    await to_password(anna)
    await anna.press("Забыли пароль?")
    await anna.press("Отмена")
    assert "Введите пароль" in anna.last.text
    assert "Пароль верный" not in "\n".join(anna.bot_texts())
    # from the code window of recovery too
    await anna.press("Забыли пароль?")
    await anna.press("Отправить код")
    await anna.press("Отмена")
    assert "Введите пароль" in anna.last.text
    assert not app.sms.sent
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    assert "Пароль верный" in anna.last.text


async def test_cancel_from_the_code_returns_to_where_it_was_asked_for(app: App) -> None:
    petrov = app.user(2002, PETROV_PHONE, "Сергей")
    await to_password(petrov, PETROV_PHONE)
    await petrov.send(PASSWORD)
    await petrov.press("Поделиться номером")
    assert "SMS на номер" in petrov.last.text
    await petrov.press("Отмена")
    # no authenticator: the code was asked for by the password, so the password again
    assert "Введите пароль" in petrov.last.text
    anna = app.user()
    await to_password(anna)
    for n in range(3):
        await anna.send(f"Wrong-Passw0rd{n}")
    await anna.press("Восстановить доступ")
    await anna.press("Отмена")
    assert "Учётная запись заблокирована" in anna.last.text


async def test_resend_after_used_up_tries_does_not_ask_for_the_dead_code(app: App) -> None:
    anna = app.user()
    await to_factor(anna)
    await anna.press("Код из SMS")
    for _ in range(5):
        await anna.send(wrong(app.last_sms_code()))
    assert "Попытки ввода исчерпаны" in anna.last.text
    await anna.press("Отправить код повторно")
    assert "Попытки ввода этого кода исчерпаны. Новый код можно запросить через" in anna.last.text
    assert "Пока введите код из последнего сообщения" not in anna.last.text


async def test_forged_resend_on_the_authenticator_window_gets_an_answer(app: App) -> None:
    anna = app.user()
    await to_factor(anna)
    await anna.press("Код из приложения")
    await forge(anna, "resend")
    assert "Код из приложения не отправляется" in anna.last.text
    await forge(anna, "use_email")
    assert not app.mail.sent and not app.sms.sent
    await anna.send(app.totp_now())
    assert "Главное меню" in anna.last.text


# -- sessions ---------------------------------------------------------------------------


async def test_an_active_session_ends_twelve_hours_after_sign_in(app: App) -> None:
    anna = app.user()
    await app.sign_in(anna)
    for _ in range(24):
        app.clock.advance(minutes=29)
        await anna.send("/menu")
        assert "Главное меню" in anna.last.text
    app.clock.advance(minutes=25)  # 12 h 1 min after sign-in
    await anna.send("/menu")
    assert "Введите логин" in anna.last.text
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        (expired,) = await uow.core.audit.all("session.expire")
    assert expired.details["reason"] == "lifetime"


# -- what is audited --------------------------------------------------------------------


async def test_someone_elses_contact_and_malformed_codes_are_audited(app: App) -> None:
    anna = app.user()
    await to_password(anna)
    await anna.send(PASSWORD)
    await anna.share_contact(phone=ANNA_PHONE, own=False)
    assert await outcomes(app, "sign_in.phone") == ["not_own_contact"]
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    await anna.send("12 34")
    await anna.press("Отмена")
    await anna.press("Код из приложения")
    await anna.send("abcdef")
    assert await outcomes(app, "sign_in.code") == ["malformed", "malformed"]
    assert await outcomes(app, "sign_in.login") == ["ok"]


# -- free text around the password ------------------------------------------------------


@pytest.mark.parametrize("step", ["phone", "factor", "locked"])
async def test_password_typed_again_around_the_password_step_is_deleted(
    app: App, step: str
) -> None:
    anna = app.user()
    await to_password(anna)
    if step == "locked":
        for n in range(3):
            await anna.send(f"Wrong-Passw0rd{n}")
    else:
        await anna.send(PASSWORD)
    if step == "factor":
        await anna.press("Поделиться номером")
    await anna.send(PASSWORD)
    assert_no_secret(anna, PASSWORD)
    hint = {
        "phone": "Поделиться номером",
        "factor": "«Код из SMS» или «Код из приложения»",
        "locked": "«Восстановить доступ» или «Другой логин»",
    }[step]
    assert hint in "\n".join(anna.bot_texts()[-2:])


async def test_greeting_promises_only_what_the_bot_does(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    text = anna.last.text
    # What exists: the application, the record, its results and extracts, booking, relatives.
    for promise in (
        "заявление на открытие медицинской карты",
        "статус",
        "результаты анализов",
        "выписки",
        "записываться к врачу",
        "задавать вопросы врачу",
        "доступ к карте близким",
    ):
        assert promise in text, promise
