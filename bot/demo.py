"""`python -m bot demo`: the real application over the Telegram sandbox, in a terminal.

It seeds the demo data into its own database in DATA_DIR, runs the workers in
the same process, prints every bot message with its buttons numbered, and reads
what you type: text, a button's number, /contact, /file PATH, /photo PATH, /quit.
It works by hand and when another program drives it through a terminal (tmux).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aiohttp import web

from bot.api import DEFAULT_API_PORT, api_config, serve_api
from bot.app import build_runtime
from bot.config import Settings
from bot.runner import prepare
from bot.workers import start_workers
from services.booking.demo import ORGANISATION_NAME, WORKING_DAYS
from services.clinic.demo import DEMO_STAFF, demo_totp_secret
from services.core.gateways import ConsoleMail, ConsoleSms
from services.core.journal import short_name
from services.demo import DEMO_PASSWORD, DEMO_PEOPLE, seed_demo
from services.sharing.demo import IVANOV_NAME, IVANOV_PHONE, invitation_command
from tgsandbox import ApiError, Sandbox, SandboxEvent, SandboxFile, SandboxMessage, SandboxUser

HELP = (
    "Пишите сообщения боту как в Telegram. Команды консоли:\n"
    "  N             нажать кнопку с номером N (число из 1–2 цифр; коды пишите целиком)\n"
    "  /contact      поделиться своим номером телефона\n"
    "  /file ПУТЬ    отправить файл как документ\n"
    "  /photo ПУТЬ   отправить файл как фото\n"
    "  /help         эта подсказка\n"
    "  /quit         выйти"
)


@dataclass(frozen=True)
class _Button:
    message_id: int | None
    label: str
    keyboard: str


def _is_push(message: SandboxMessage) -> bool:
    """A push message (its buttons are the push router's), not a dialog's window."""
    return all(
        str(message.button(label).get("callback_data", "")).startswith("push:")
        for label in message.buttons
    )


class Console:
    """Prints the chat as it changes and turns typed lines into the person's actions."""

    def __init__(
        self,
        sandbox: Sandbox,
        user: SandboxUser,
        out: TextIO = sys.stdout,
        downloads: Path | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.user = user
        self.out = out
        # Files the bot sends (extracts, results, charts) are saved here, so that they can
        # be opened and `verify-pdf` run on them; a real chat keeps them in Telegram.
        self.downloads = downloads
        self.shown: dict[int, str] = {}
        self.buttons: list[_Button] = []
        self.changed = asyncio.Event()
        sandbox.add_listener(self._on_event)

    def _on_event(self, event: SandboxEvent) -> None:
        if event.chat_id == self.user.chat_id:
            self.changed.set()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def notice(self, title: str, text: str) -> None:
        self.say(f"\n  ✉ {title}\n    {text}")

    def render(self) -> bool:
        """Print bot messages that are new or were edited since the last look."""
        messages = self.user.messages
        alive = {m.message_id for m in messages}
        for message_id in list(self.shown):
            if message_id not in alive:
                del self.shown[message_id]
        printed = False
        for message in messages:
            if not message.from_bot:
                continue
            body = self._body(message)
            if self.shown.get(message.message_id) == body:
                continue
            edited = message.message_id in self.shown
            self.shown[message.message_id] = body
            self.say(("\n🤖 (изменено)\n" if edited else "\n🤖 ") + body)
            printed = True
        if printed:
            self._number_buttons(messages)
        return printed

    def _body(self, message: SandboxMessage) -> str:
        parts = [message.text or ""]
        if message.document is not None:
            line = f"📎 файл {message.document.name} ({message.document.size} байт)"
            parts.append(line + self._save(message.message_id, message.document))
        if message.photo is not None:
            line = f"🖼 изображение {message.photo.width}×{message.photo.height}"
            parts.append(line + self._save(message.message_id, message.photo, ".png"))
        return "\n".join(p for p in parts if p)

    def _save(self, message_id: int, file: SandboxFile, suffix: str = "") -> str:
        """Keep a file the bot sent in the downloads folder; the line that says where."""
        if self.downloads is None:
            return ""
        name = Path(file.name or f"file{suffix}").name
        path = self.downloads / f"{message_id}-{name}"
        if not path.exists():
            self.downloads.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file.data)
        return f"\n   сохранён: {path.resolve()}"

    def _number_buttons(self, messages: list[SandboxMessage]) -> None:
        """Number the newest message's buttons; under a push, the open window's ones too.

        In Telegram the window above a push stays pressable; here it keeps numbers
        after the push's own, so a click on it after the push can be tried.
        """
        with_keyboard = [m for m in messages if m.from_bot and m.buttons]
        shown = with_keyboard[-1:]
        if shown and _is_push(shown[0]):
            window = next((m for m in reversed(with_keyboard) if not _is_push(m)), None)
            if window is not None:
                shown.append(window)
        self.buttons = [
            _Button(m.message_id, label, "inline") for m in shown for label in m.buttons
        ]
        reply = self.user.current_reply_keyboard()
        self.buttons += [_Button(None, label, "reply") for label in reply or []]
        previous: int | None = shown[0].message_id if shown else None
        for number, button in enumerate(self.buttons, start=1):
            if button.message_id not in (previous, None):
                self.say("   — кнопки окна выше:")
                previous = button.message_id
            mark = "⌨" if button.keyboard == "reply" else "▸"
            self.say(f"   [{number}] {mark} {button.label}")

    async def act(self, line: str) -> bool:
        """Do what the line says; False means quit."""
        line = line.rstrip("\n")
        command, _, argument = line.strip().partition(" ")
        if command in ("/quit", "/exit"):
            return False
        if command == "/help":
            self.say(HELP)
        elif command == "/contact":
            await self.user.share_contact()
        elif command in ("/file", "/photo"):
            await self._send_file(command, argument.strip())
        elif line.strip().isdigit() and len(line.strip()) <= 2 and self.buttons:
            number = int(line.strip())
            if not 1 <= number <= len(self.buttons):
                self.say(f"Нет кнопки с номером {number}.")
                return True
            button = self.buttons[number - 1]
            await self.user.press(
                button.label,
                message=button.message_id,
                keyboard="reply" if button.keyboard == "reply" else "inline",
            )
        elif line.strip():
            await self.user.send(line)
        return True

    async def _send_file(self, command: str, path_text: str) -> None:
        """Send the file at `path_text`; what Telegram would not send is said, not raised."""
        if not path_text:
            self.say(f"Укажите путь к файлу, например: {command} ~/скан.pdf")
            return
        try:
            data = await asyncio.to_thread(_read_file, path_text)
        except OSError:
            self.say(f"Не удалось прочитать файл: {path_text}. Проверьте права доступа.")
            return
        if data is None:
            self.say(f"Файл не найден: {path_text}")
            return
        if not data:
            self.say(f"Файл пустой: {path_text}. Telegram не отправляет пустые файлы.")
            return
        try:
            if command == "/photo":
                await self.user.send_photo(data)
            else:
                await self.user.send_document(data, Path(path_text).name)
        except ApiError as exc:
            self.say(_upload_refusal(exc))


def _upload_refusal(exc: ApiError) -> str:
    """What Telegram's own app would say where the upload is refused."""
    if exc.error_code == 413:
        return "Файл слишком большой: Telegram его не отправит. Выберите файл поменьше."
    if "IMAGE_PROCESS_FAILED" in exc.description:
        return "Это не картинка, как фото его не отправить. Отправьте его файлом: /file ПУТЬ."
    return f"Файл не отправлен: {exc.description}."


def _read_file(path_text: str) -> bytes | None:
    """The file's bytes; None when there is no such file."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        return None
    return path.read_bytes()


def _start_reader(queue: asyncio.Queue[str | None]) -> None:
    """Read standard input in a daemon thread, so that /quit never waits for a last line."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        while True:
            line = sys.stdin.readline()
            try:
                loop.call_soon_threadsafe(queue.put_nowait, line if line else None)
            except RuntimeError:  # the demo has ended and its loop is closed
                return
            if not line:
                return

    threading.Thread(target=read, name="demo-stdin", daemon=True).start()


async def run_console(
    settings: Settings, *, phone: str = "+79990000001", user_id: int | None = None
) -> int:
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    await prepare(settings)
    runtime = build_runtime(settings)
    async with runtime.uow_factory() as uow:
        await seed_demo(uow, runtime.ctx)
        await uow.commit()
    sandbox = Sandbox()
    bot = sandbox.create_bot()
    sandbox.attach(runtime.dispatcher, bot, raise_errors=False)
    # Each demo phone is its own Telegram account, so one DATA_DIR serves everyone.
    digits = "".join(ch for ch in phone if ch.isdigit())
    names = {p.account.phone: p.account.first_name for p in DEMO_PEOPLE}
    person = sandbox.user(
        user_id=user_id or 100_000 + int(digits[-6:] or 0),
        first_name=names.get(phone, "Гость"),
        phone=phone,
    )
    console = Console(sandbox, person, downloads=settings.data_dir / "downloads")
    for gateway in (runtime.ctx.gateways.sms, runtime.ctx.gateways.mail):
        if isinstance(gateway, ConsoleSms | ConsoleMail):
            gateway.listeners.append(console.notice)
    stop = asyncio.Event()
    await runtime.dispatcher.emit_startup(bot=bot)
    # Other terminals on the same DATA_DIR are other people's Telegram: their pushes are
    # theirs to send (this sandbox knows only this person's chat).
    workers = start_workers(runtime, bot, stop, chats={person.chat_id})
    # The laboratories' API, so that `python -m bot demo-lab` can send Анна a result.
    api_port = settings.api_port or DEFAULT_API_PORT
    try:
        api_runner: web.AppRunner | None = await serve_api(
            api_config(runtime), settings.api_host, api_port
        )
    except OSError as exc:
        api_runner = None
        console.say(f"API лабораторий не запущен: порт {api_port} занят ({exc.strerror}).")
    console.say("ЭМК-бот: офлайн-демо. Данные: " + str(settings.data_dir.resolve()))
    console.say("Демо-учётные записи (пароль " + DEMO_PASSWORD + "):")
    for demo in DEMO_PEOPLE:
        account = demo.account
        console.say(
            f"  {account.last_name} {account.first_name} {account.middle_name or ''}: "
            f"{account.phone}, второй фактор: {demo.second_factor}"
        )
    for staff in DEMO_STAFF:
        console.say(
            f"  Врач {staff.last_name} {staff.first_name} {staff.middle_name}: {staff.phone}, "
            f"ключ приложения для кодов: {demo_totp_secret(staff.phone)}"
        )
    console.say(
        f"Запись к врачу: Анна и Петров прикреплены к поликлинике «{ORGANISATION_NAME}»; "
        f"расписание на {WORKING_DAYS} рабочих дней вперёд от дня, когда созданы демо-данные."
    )
    console.say(
        "Доступ для близких: Анна открыла Петрову доступ «просмотр и скачивание» к своей "
        "карте на год."
    )
    console.say(
        f"Приглашение Анны для сына ({short_name(IVANOV_NAME)}, {IVANOV_PHONE}, «полный доступ») — "
        f"в демо с этим номером (make demo PHONE={IVANOV_PHONE}) введите: "
        f"{invitation_command(runtime.ctx)}"
    )
    if api_runner is not None:
        console.say(
            f"API лабораторий: http://{settings.api_host}:{api_port}/api/v1/lab-results "
            "(результат Анне: python -m bot demo-lab --snils 11223344595 --test glucose)."
        )
    console.say(f"Вы пишете боту как пользователь Telegram с номером {person.phone}.")
    console.say(HELP)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    _start_reader(queue)
    try:
        await person.send("/start")
        console.render()
        while True:
            console.out.write("> ")
            console.out.flush()
            line = await _next_line(queue, console)
            if line is None or not await console.act(line):
                break
            await asyncio.sleep(0.05)
            console.render()
    finally:
        stop.set()
        if api_runner is not None:
            await api_runner.cleanup()
        await asyncio.gather(*workers, return_exceptions=True)
        await runtime.dispatcher.emit_shutdown(bot=bot)
        sandbox.detach()
        await runtime.close()
        with contextlib.suppress(Exception):
            await bot.session.close()
    console.say("До свидания!")
    return 0


async def _next_line(queue: asyncio.Queue[str | None], console: Console) -> str | None:
    """Wait for a typed line, printing push messages that arrive meanwhile."""
    while True:
        getter = asyncio.ensure_future(queue.get())
        changed = asyncio.ensure_future(console.changed.wait())
        done, _ = await asyncio.wait({getter, changed}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            changed.cancel()
            return getter.result()
        getter.cancel()
        console.changed.clear()
        await asyncio.sleep(0.05)
        if console.render():
            console.out.write("> ")
            console.out.flush()
