"""`python -m bot demo` driven by another program through its terminal streams."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import date, timedelta
from pathlib import Path


class Console:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen = ""

    async def expect(self, pattern: str, within: float = 60) -> re.Match[str]:
        assert self.process.stdout is not None
        regex = re.compile(pattern)
        start = len(self.seen)
        async with asyncio.timeout(within):
            while True:
                match = regex.search(self.seen, start)
                if match:
                    return match
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"the demo ended before {pattern!r}:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")

    async def press(self, label: str, within: float = 60) -> None:
        """Press the button `label` of the newest message that shows it."""
        start = len(self.seen)
        pattern = r"\[(\d+)\] \S+ " + re.escape(label)
        number = None
        async with asyncio.timeout(within):
            while number is None:
                found = list(re.finditer(pattern, self.seen))
                if found and (found[-1].start() >= start or start == len(self.seen)):
                    number = found[-1].group(1)
                    break
                assert self.process.stdout is not None
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"the demo ended before {label!r}:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")
        await self.type(number)

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()


def _demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env["DATA_DIR"] = str(tmp_path / "data")
    return env


async def _start_demo(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    env = _demo_env(tmp_path)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        *args,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_sending_an_empty_or_missing_file_in_the_demo_is_answered_and_it_goes_on(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "пустой.pdf"
    empty.write_bytes(b"")
    text = tmp_path / "заметка.txt"
    text.write_text("не картинка")
    process = await _start_demo(tmp_path)
    console = Console(process)
    try:
        await console.expect(r"\[1\] ▸ Войти через Госуслуги")
        await console.type(f"/file {empty}")
        await console.expect(f"Файл пустой: {re.escape(str(empty))}. Telegram не отправляет")
        await console.type(f"/file {tmp_path / 'нет такого.pdf'}")
        await console.expect("Файл не найден: ")
        await console.type("/file")
        await console.expect("Укажите путь к файлу, например: /file")
        await console.type(f"/photo {text}")
        await console.expect("Это не картинка, как фото его не отправить")
        # the demo goes on
        await console.type("1")
        await console.expect("Введите логин")
        await console.type("/quit")
        await console.expect("До свидания!")
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "Traceback" not in console.seen


async def test_demo_signs_in_as_anna_with_the_code_on_screen(tmp_path: Path) -> None:
    process = await _start_demo(tmp_path)
    console = Console(process)
    try:
        await console.expect(r"Иванова Анна Сергеевна: \+79990000001")
        await console.expect(r"\[1\] ▸ Войти через Госуслуги")
        await console.type("1")
        await console.expect("Введите логин")
        await console.type("+79990000001")
        await console.expect("Введите пароль")
        await console.type("Demo-Passw0rd")
        await console.expect(r"\[1\] ⌨ 📱 Поделиться номером")
        await console.type("/contact")
        await console.expect(r"\[1\] ▸ Код из SMS")
        await console.type("1")
        code = (await console.expect(r"Код подтверждения: (\d{6})")).group(1)
        await console.type(code)
        await console.expect("Здравствуйте, Анна Сергеевна!")
        await console.type("/quit")
        await console.expect("До свидания!")
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "Traceback" not in console.seen


async def _sign_in(console: Console, phone: str = "+79990000001") -> None:
    await console.expect(r"\[1\] ▸ Войти через Госуслуги")
    await console.type("1")
    await console.expect("Введите логин")
    await console.type(phone)
    await console.expect("Введите пароль")
    await console.type("Demo-Passw0rd")
    await console.expect(r"\[1\] ⌨ 📱 Поделиться номером")
    await console.type("/contact")
    # With an authenticator the bot asks which code; with SMS only it sends one at once.
    asked = await console.expect(r"\[(\d+)\] ▸ Код из SMS|Код подтверждения: (\d{6})")
    if asked.group(2) is None:
        await console.type(asked.group(1))
        code = (await console.expect(r"Код подтверждения: (\d{6})")).group(1)
    else:
        code = asked.group(2)
    await console.type(code)
    await console.expect(r"Здравствуйте, \w+ \w+!")


async def _admin(tmp_path: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "admin",
        *args,
        cwd=tmp_path,
        env=_demo_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_readme_waitlist_walk_through_a_time_opened_by_the_admin_reaches_anna(
    tmp_path: Path,
) -> None:
    """README's waitlist: Анна waits for Белов; `admin change-day` opens times; the push."""
    process = await _start_demo(tmp_path)
    console = Console(process)
    try:
        await _sign_in(console)
        await console.press("Записаться к врачу")
        await console.press("Кардиолог (есть направление)")
        await console.press("Белов Андрей Николаевич, каб. 301")
        await console.expect("Ближайшее свободное время")
        await console.press("Сообщить, если появится время раньше")
        await console.press("Только к врачу Белов А. Н.")
        await console.press("В ближайшие 2 недели")
        period = await console.expect(r"Период: с (\d\d)\.(\d\d)\.(\d{4}) по ")
        doctors = await _admin(tmp_path, "doctors")
        belov = re.search(r"^(\d+)\s+Белов Андрей Николаевич\s+кардиолог", doctors, re.M)
        assert belov, doctors
        # The next working day after today: every one of Белов's times that week is taken,
        # and today's 15:00–16:00 may be over already.
        day = date(int(period.group(3)), int(period.group(2)), int(period.group(1)))
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        changed = await _admin(
            tmp_path,
            "change-day",
            "--doctor",
            belov.group(1),
            "--day",
            day.isoformat(),
            "--hours",
            "09:00-16:00",
            "--reason",
            "Приём продлён до 16:00",
        )
        assert "3 opened" in changed, changed
        await console.expect(r"Освободилось время: кардиолог")
        await console.press("Записаться")
        await console.expect(r"Мы придерживаем это время для вас до \d\d:\d\d")
        await console.press("Записаться")
        await console.expect("✅ Вы записаны на приём")
        await console.expect(r"в 15:00")
        await console.type("/quit")
        await console.expect("До свидания!")
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "Traceback" not in console.seen


async def test_readme_relatives_walk_through_in_two_terminals_on_one_data_dir(
    tmp_path: Path,
) -> None:
    """README's «Доступ для близких»: Петров reads Анна's results in his terminal, Анна
    revokes in hers, his next click is refused; each terminal gets its own person's pushes."""
    petrov_process = await _start_demo(tmp_path, "--phone", "+79990000002")
    petrov = Console(petrov_process)
    anna_process: asyncio.subprocess.Process | None = None
    try:
        await _sign_in(petrov, "+79990000002")
        await petrov.press("Карты близких")
        await petrov.expect("Иванова А. С. — просмотр и скачивание, действует до")
        await petrov.press("Карта: Иванова А. С.")
        await petrov.expect("Карта: Иванова А. С. · просмотр и скачивание")
        await petrov.press("Результаты анализов")
        await petrov.expect("Глюкоза")
        assert "ВИЧ" not in petrov.seen

        anna_process = await _start_demo(tmp_path)
        anna = Console(anna_process)
        await _sign_in(anna)
        await anna.press("Доступ для близких")
        await anna.press("Петров С. И.")
        await anna.press("Отозвать")
        await anna.press("Отозвать доступ")
        code = (await anna.expect(r"Код подтверждения: (\d{6})")).group(1)
        await anna.type(code)
        await anna.expect("Состояние: отозван")

        # His terminal gets his push; the next click on the results is refused.
        await petrov.expect("Доступ к карте Иванова А. С. отозван владельцем.")
        if "кнопки окна выше" not in petrov.seen:  # the window's buttons, under the push
            await petrov.expect("кнопки окна выше")
        await petrov.press("Назад")  # the results window above the push
        await petrov.expect(r"Доступ к карте Иванова А\. С\. отозван\.(?! владельцем)")
        await petrov.press("Запросить доступ снова: Иванова А. С.")
        # Анна's terminal gets the request with its answers.
        await anna.expect("Разрешить")
        for console in (petrov, anna):
            await console.type("/quit")
            await console.expect("До свидания!")
        assert await asyncio.wait_for(petrov_process.wait(), 30) == 0
        assert await asyncio.wait_for(anna_process.wait(), 30) == 0
    finally:
        for process in (petrov_process, anna_process):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
    assert "Traceback" not in petrov.seen
