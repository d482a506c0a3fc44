"""`python -m bot run` as a separate process against a Bot API server over HTTP.

This is how the bot is tried from outside: the sandbox serves the Bot API at
TELEGRAM_API_BASE, the bot long-polls it like Telegram, and a person signs in.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tgsandbox import Sandbox, SandboxUser

PASSWORD = "Demo-Passw0rd"
ANNA_PHONE = "+79990000001"


async def until(check: Callable[[], bool], what: str, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def last_text(user: SandboxUser) -> str:
    bot_messages = [m for m in user.messages if m.from_bot]
    return (bot_messages[-1].text or "") if bot_messages else ""


def last_buttons(user: SandboxUser) -> list[str]:
    bot_messages = [m for m in user.messages if m.from_bot]
    return bot_messages[-1].buttons if bot_messages else []


class BotProcess:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.log = tmp_path / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.tmp_path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    async def start(self) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.tmp_path,
            env=self.env,
            stdout=handle,
            stderr=handle,
        )
        handle.close()

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def last_code(self) -> str:
        codes = re.findall(r"Код подтверждения: (\d{6})", self.output())
        assert codes, "no code in the console SMS log"
        return codes[-1]


def pushed(user: SandboxUser, words: str) -> bool:
    return any(words in (m.text or "") for m in user.messages if m.from_bot)


async def new_code(bot: BotProcess, before: int) -> str:
    """The code texted after `before` codes were, read from the console SMS in the log."""
    await until(lambda: bot.output().count("Код подтверждения") > before, "the SMS with a code")
    return bot.last_code()


def codes(bot: BotProcess) -> int:
    return bot.output().count("Код подтверждения")


async def sign_in_anna(sandbox: Sandbox, bot: BotProcess) -> SandboxUser:
    anna = sandbox.user(user_id=7901, first_name="Анна", phone=ANNA_PHONE)
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await anna.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(anna), "the login question")
    await anna.send(ANNA_PHONE)
    await until(lambda: "Введите пароль" in last_text(anna), "the password question")
    await anna.send(PASSWORD)
    await until(lambda: bool(anna.current_reply_keyboard()), "the contact button")
    await anna.press("Поделиться номером")
    await until(lambda: "Код из SMS" in last_buttons(anna), "the choice of the code")
    before = codes(bot)
    await anna.press("Код из SMS")
    await anna.send(await new_code(bot, before))
    await until(lambda: "Главное меню" in last_text(anna), "the main menu")
    return anna


async def test_sign_in_against_a_bot_api_server_over_http(
    served: tuple[Sandbox, BotProcess],
) -> None:
    sandbox, bot = served
    await bot.start()
    await until(lambda: bool(sandbox.commands), "setMyCommands")
    commands = next(iter(sandbox.commands.values()))
    assert [c["command"] for c in commands] == ["start", "menu", "logout"]

    anna = sandbox.user(user_id=777, first_name="Анна", phone="+79990000001")
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await anna.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(anna), "the login question")
    await anna.send("8 999 000-00-01")
    await until(lambda: "Введите пароль" in last_text(anna), "the password question")
    await anna.send(PASSWORD)
    await until(lambda: bool(anna.current_reply_keyboard()), "the contact button")
    assert all(m.text != PASSWORD for m in anna.messages)
    await anna.press("Поделиться номером")
    await until(lambda: "Код из SMS" in last_buttons(anna), "the choice of the code")
    await anna.press("Код из SMS")
    await until(lambda: "Код подтверждения" in bot.output(), "the SMS in the console")
    await anna.send(bot.last_code())
    await until(lambda: "Главное меню" in last_text(anna), "the main menu")

    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    assert PASSWORD not in log
    # personal data reaches the log only in the console SMS line, whose job it is
    for line in log.splitlines():
        if "+79990000001" in line or "Иванова" in line:
            assert "console SMS" in line, line


async def test_a_restarted_process_continues_the_conversation(
    served: tuple[Sandbox, BotProcess],
) -> None:
    sandbox, bot = served
    await bot.start()
    anna = sandbox.user(user_id=778, first_name="Анна", phone="+79990000001")
    await anna.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome")
    await anna.press("Войти через Госуслуги")
    await until(lambda: "Введите логин" in last_text(anna), "the login question")
    await anna.send("+79990000001")
    await until(lambda: "Введите пароль" in last_text(anna), "the password question")
    assert await bot.stop() == 0
    await bot.start()
    await anna.send(PASSWORD)
    await until(lambda: bool(anna.current_reply_keyboard()), "the contact button after restart")
    assert await bot.stop() == 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_checks_the_secret_token(served: tuple[Sandbox, BotProcess]) -> None:
    import aiohttp

    sandbox, bot = served
    port = free_port()
    bot.env.update(
        WEBHOOK_URL="https://emk.example.ru/telegram/hook",
        WEBHOOK_SECRET="s3cret-token",
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    await bot.start()
    await until(lambda: bool(sandbox.webhook), "setWebhook")
    assert sandbox.webhook["url"] == "https://emk.example.ru/telegram/hook"
    assert sandbox.webhook.get("secret_token") == "s3cret-token"
    anna = sandbox.user(user_id=779, first_name="Анна", phone="+79990000001")
    # The person writes to the bot (the sandbox sends no webhooks: this test posts the update).
    await anna.send("/start")
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": anna.chat_id, "type": "private", "first_name": "Анна"},
            "from": {"id": anna.chat_id, "is_bot": False, "first_name": "Анна"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.post(url, json=update, headers={}) as refused:
                    assert refused.status == 401
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        async with http.post(url, json=update, headers=headers) as accepted:
            assert accepted.status == 200
    await until(lambda: "Войти через Госуслуги" in last_buttons(anna), "the welcome via webhook")
    assert await bot.stop() == 0


async def test_the_application_journey_with_workers_in_the_process(
    served: tuple[Sandbox, BotProcess],
) -> None:
    """Петров applies and the workers inside `run` process it and push every change."""
    from services.demo import PETROV_APPLICATION
    from services.enrolment.application import FIELDS
    from tests.support.bot import png_bytes

    sandbox, bot = served
    bot.env["PROCESSING_DELAY_SECONDS"] = "0"
    await bot.start()
    petrov = sandbox.user(user_id=902, first_name="Сергей", phone="+79990000002")

    async def wait_for(text: str) -> None:
        await until(lambda: text in last_text(petrov), repr(text))

    await petrov.send("/start")
    await until(lambda: "Войти через Госуслуги" in last_buttons(petrov), "the welcome")
    await petrov.press("Войти через Госуслуги")
    await wait_for("Введите логин")
    await petrov.send("+79990000002")
    await wait_for("Введите пароль")
    await petrov.send(PASSWORD)
    await until(lambda: bool(petrov.current_reply_keyboard()), "the contact button")
    await petrov.press("Поделиться номером")
    await wait_for("SMS на номер")
    await petrov.send(bot.last_code())
    await wait_for("Главное меню")

    await petrov.press("Заявление на ЭМК")
    for number, spec in enumerate(FIELDS, start=1):
        if spec.kind == "consent":
            await until(lambda: "Даю согласие" in last_buttons(petrov), "the consent")
            await petrov.press("Даю согласие")
            continue
        await wait_for(f"шаг {number} из {len(FIELDS)}")
        value = PETROV_APPLICATION.get(spec.name, "")
        if spec.name == "phone":
            await petrov.press("Использовать номер учётной записи")
        elif spec.kind == "choice":
            await petrov.press(value)
        elif spec.optional and not value:
            await petrov.press("Пропустить")
        else:
            await petrov.send(value)
    await wait_for("Чтобы исправить значение")
    await petrov.press("Документы")
    for slot, color in (("Паспорт", "navy"), ("Полис ОМС", "green"), ("СНИЛС", "maroon")):
        await until(
            lambda slot=slot: any(slot in b for b in last_buttons(petrov)), f"the {slot} slot"
        )
        await petrov.press(slot)
        await wait_for("Пришлите")
        await petrov.send_document(png_bytes(color=color), f"{color}.png")
        await wait_for("принят")
    await petrov.press("Готово")
    await until(lambda: "Отправить" in last_buttons(petrov), "the review")
    codes_before = bot.output().count("Код подтверждения")
    await petrov.press("Отправить")
    await until(lambda: bot.output().count("Код подтверждения") > codes_before, "the SMS")
    await petrov.send(bot.last_code())
    await wait_for("Заявка принята")

    # the processor and the notifier run inside `run`: the pushes arrive by themselves
    def pushed(words: str) -> bool:
        return any(words in (m.text or "") for m in petrov.messages if m.from_bot)

    await until(lambda: pushed("электронная медицинская карта открыта"), "the final push")
    assert pushed("в работе")
    await petrov.press("Статус заявки")
    await wait_for("Статус: Карта открыта")
    assert await bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    for secret in ("156-236-488 77", "15623648877", "7750 1983 4027 1955", "Тверская"):
        assert secret not in log
