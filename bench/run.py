"""Sign-in throughput through the real application, and its cost over a baseline.

Runs N complete sign-ins (start, login, password, phone, SMS code, main menu)
through the Telegram sandbox against the real dispatcher, twice in the same
run: with the default persistent conversation storage (SQL, in the update's
transaction) and with aiogram's in-memory storage as the baseline. Prints
updates per second, milliseconds per update and peak traced memory for both,
and the ratio. Nothing leaves the machine.

    python bench/run.py [--people 30]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import tracemalloc
from pathlib import Path

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from bot.app import build_runtime
from bot.config import Settings
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways
from services.core.hashing import PasswordHasher
from services.identity.admin import AdminService, NewAccount
from storage.migrate import upgrade_async
from tgsandbox import Sandbox

PASSWORD = "Bench-Passw0rd"
CODE = re.compile(r"Код подтверждения: (\d{6})")


async def run(
    people: int, storage: BaseStorage | None, workdir: Path, *, trace: bool = False
) -> tuple[int, float, int]:
    """Sign `people` in; returns updates, seconds and (with `trace`) peak traced bytes."""
    url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    await upgrade_async(url)
    settings = Settings(_env_file=None, data_dir=workdir, database_url=url)  # type: ignore[call-arg]
    sms = ConsoleSms()
    runtime = build_runtime(
        settings,
        gateways=Gateways(clock=FrozenClock(), sms=sms, mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        storage=storage,
    )
    phones = [f"+7999{n:07d}" for n in range(people)]
    async with runtime.uow_factory() as uow:
        admin = AdminService(uow, runtime.ctx, operator="bench")
        for n, phone in enumerate(phones):
            await admin.create_account(
                NewAccount(phone=phone, password=PASSWORD, last_name="Тестов", first_name=f"Н{n}")
            )
        await uow.commit()
    sandbox = Sandbox()
    bot = sandbox.create_bot()
    sandbox.attach(runtime.dispatcher, bot)
    await runtime.dispatcher.emit_startup(bot=bot)
    updates = 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    for n, phone in enumerate(phones):
        user = sandbox.user(user_id=10_000 + n, first_name="Тест", phone=phone)
        await user.send("/start")
        await user.press("Войти через Госуслуги")
        await user.send(phone)
        await user.send(PASSWORD)
        await user.press("Поделиться номером")
        match = CODE.search(sms.sent[-1][1])
        assert match
        await user.send(match.group(1))
        assert "Главное меню" in (user.last.text or "")
        updates += 6
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    await runtime.dispatcher.emit_shutdown(bot=bot)
    sandbox.detach()
    await runtime.close()
    return updates, elapsed, peak


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=30)
    args = parser.parse_args()
    results = {}
    for name, make in (("memory storage (baseline)", MemoryStorage), ("SQL storage", None)):
        # Timed without tracing (tracemalloc slows Python down); memory in a second pass.
        with tempfile.TemporaryDirectory() as tmp:
            updates, elapsed, _ = await run(args.people, make() if make else None, Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            _, _, peak = await run(args.people, make() if make else None, Path(tmp), trace=True)
        results[name] = (updates, elapsed, peak)
    print(f"{args.people} sign-ins, 6 updates each, SQLite, through the sandbox")
    for name, (updates, elapsed, peak) in results.items():
        print(
            f"  {name:28} {updates / elapsed:8.1f} updates/s  "
            f"{1000 * elapsed / updates:7.2f} ms/update  peak {peak / 2**20:6.1f} MiB"
        )
    base = results["memory storage (baseline)"]
    sql = results["SQL storage"]
    print(f"  SQL storage costs {sql[1] / base[1]:.2f}× the baseline's time per update")


if __name__ == "__main__":
    asyncio.run(main())
