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


async def test_demo_signs_in_as_anna_with_the_code_on_screen(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "BOT_"))}
    env["DATA_DIR"] = str(tmp_path / "data")
    process = await asyncio.create_subprocess_exec(
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
