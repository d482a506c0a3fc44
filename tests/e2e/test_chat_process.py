"""The embedded chat end to end: `python -m bot run` as a separate process over HTTP.

Анна asks Соколова a question from the menu; the notifier inside `run` pushes it to
Соколова, who signs in with her authenticator app, opens it with «Открыть» and
answers; Анна receives the push and opens the answer with its «Открыть». Neither
the question nor the answer is in the bot's log.
"""

from __future__ import annotations

import pyotp

from services.clinic.demo import demo_totp_secret
from tests.e2e.test_run_process import (
    BotProcess,
    last_buttons,
    last_text,
    pushed,
    sign_in_anna,
    until,
)
from tgsandbox import Sandbox, SandboxUser

PASSWORD = "Demo-Passw0rd"
ANNA_PHONE = "+79990000001"
SOKOLOVA_PHONE = "+79990000101"
QUESTION = "Можно ли принимать ибупрофен вместе с препаратом от давления?"
ANSWER = "Можно, но не дольше трёх дней подряд и после еды. Измеряйте давление утром и вечером."
SENT = "Вопрос отправлен. Врач обычно отвечает в течение 1–3 рабочих дней."


async def sign_in_sokolova(sandbox: Sandbox) -> SandboxUser:
    sokolova = sandbox.user(user_id=7931, first_name="Мария", phone=SOKOLOVA_PHONE)
    await sokolova.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(sokolova), "the welcome")
    await sokolova.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(sokolova), "the login question")
    await sokolova.send(SOKOLOVA_PHONE)
    await until(lambda: "Введите пароль" in last_text(sokolova), "the password question")
    await sokolova.send(PASSWORD)
    await until(lambda: bool(sokolova.current_reply_keyboard()), "the contact button")
    await sokolova.press("Поделиться номером")
    await until(lambda: "Откройте приложение для кодов" in last_text(sokolova), "the app's code")
    await sokolova.send(pyotp.TOTP(demo_totp_secret(SOKOLOVA_PHONE)).now())
    await until(lambda: "Главное меню" in last_text(sokolova), "the doctor's main menu")
    return sokolova


def push_of(user: SandboxUser, words: str) -> int:
    return next(m.message_id for m in user.messages if m.from_bot and words in (m.text or ""))


async def test_a_patient_asks_the_doctor_answers_the_patient_gets_the_push(
    served: tuple[Sandbox, BotProcess],
) -> None:
    sandbox, bot = served
    await bot.start()
    sokolova = await sign_in_sokolova(sandbox)
    anna = await sign_in_anna(sandbox, bot)

    async def anna_sees(words: str) -> None:
        await until(lambda: words in last_text(anna), repr(words))

    async def sokolova_sees(words: str) -> None:
        await until(lambda: words in last_text(sokolova), repr(words))

    # Анна asks from the menu.
    await anna.press("Спросить врача")
    await anna_sees("Выберите врача")
    await anna.press("Соколова М. А., терапевт")
    await anna_sees("Напишите вопрос одним сообщением")
    await anna.send(QUESTION)
    await anna_sees("Приложить файл к вопросу?")
    await anna.press("Отправить без файла")
    await anna_sees(SENT)

    # Соколова gets the push and answers from it.
    question_push = "Новый вопрос пациента"
    await until(lambda: pushed(sokolova, question_push), "the doctor's push")
    await sokolova.press("Открыть", message=push_of(sokolova, question_push))
    await sokolova_sees(QUESTION)
    assert "Пациент: Иванова А. С." in last_text(sokolova)
    await sokolova.press("Ответить")
    await sokolova_sees("Напишите ответ пациенту")
    await sokolova.send(ANSWER)
    await sokolova_sees("Приложить файл к ответу?")
    await sokolova.press("Отправить без файла")
    await sokolova_sees("Ответ отправлен пациенту.")

    # Анна receives the push and opens the answer.
    answer_push = "Врач Соколова М. А. ответил(а) на ваш вопрос."
    await until(lambda: pushed(anna, answer_push), "the patient's push")
    await anna.press("Открыть", message=push_of(anna, answer_push))
    await anna_sees(ANSWER)
    assert "Состояние: есть ответ" in last_text(anna)

    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    assert QUESTION not in log and ANSWER not in log
