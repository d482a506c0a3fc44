"""`python -m bot demo` driven by another program through its terminal streams."""

from __future__ import annotations

import asyncio
import os
import re
import sys
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

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()


async def _start_demo(tmp_path: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env["DATA_DIR"] = str(tmp_path / "data")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
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
