"""Part 2: how long the event loop stalls while a sign-in's password is checked.

The application runs with the production hasher (``PasswordHasher()``, argon2-cffi's
default parameters). A ticker coroutine sleeps 1 ms in a loop and records the
largest gap between its wake-ups while the person's password message is
handled; the stall is that gap less the 1 ms it asked to sleep. The step
before (the login) is measured the same way, as a baseline without hashing.
One sign-in goes first, unmeasured (a warm process).

For reference, without the application: the same verification run on the
event loop itself, in a worker thread, and in a worker thread of lower
scheduling priority (Linux: a thread's own nice value) — what the stall is
made of when the hashing threads and the loop share few cores.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import argon2

from bench.backends import Backend
from bench.driven import PASSWORD, DrivenApp, expect, people
from services.core.hashing import PasswordHasher

TICK = 0.001


class Ticker:
    """Sleeps `TICK` in a loop; `max_gap` is the longest time between two wake-ups."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0
        self._stop = False
        self._ticked = asyncio.Event()

    async def run(self) -> None:
        last = time.perf_counter()
        while not self._stop:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            self.ticks += 1
            self._ticked.set()
            last = now

    @property
    def stall_ms(self) -> float:
        return max(0.0, 1000 * (self.max_gap - TICK))


@asynccontextmanager
async def ticking() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    await ticker._ticked.wait()  # running before the measured work starts
    ticker.max_gap = 0.0
    try:
        yield ticker
    finally:
        ticker._stop = True
        await task


async def _measure(step: Awaitable[object]) -> tuple[float, float]:
    """(stall ms, step ms) of one awaited step."""
    async with ticking() as ticker:
        started = time.perf_counter()
        await step
        elapsed = time.perf_counter() - started
    return ticker.stall_ms, 1000 * elapsed


@dataclass
class StallResult:
    backend: str
    hasher: str
    password_stalls_ms: list[float] = field(default_factory=list)
    password_steps_ms: list[float] = field(default_factory=list)
    login_stalls_ms: list[float] = field(default_factory=list)
    signed_in: int = 0

    @property
    def max_stall_ms(self) -> float:
        return max(self.password_stalls_ms, default=0.0)

    @property
    def max_login_stall_ms(self) -> float:
        return max(self.login_stalls_ms, default=0.0)


def hasher_label() -> str:
    return (
        f"argon2id t={argon2.DEFAULT_TIME_COST} m={argon2.DEFAULT_MEMORY_COST} KiB "
        f"p={argon2.DEFAULT_PARALLELISM}"
    )


async def run_stall(backend: Backend, sign_ins: int) -> StallResult:
    result = StallResult(backend=backend.label, hasher=hasher_label())
    workdir = backend.workdir / "stall"
    workdir.mkdir(parents=True, exist_ok=True)
    async with backend.database("stall") as url:
        app = DrivenApp(url, workdir, storage=backend.fsm_storage("stall"), hasher=PasswordHasher())
        await app.start()
        try:
            warmup, *persons = people(900_000, sign_ins + 1)
            await app.create_accounts([warmup, *persons])
            # A process that has served people before: statement caches and first renders
            # are one-off costs, not the password check's.
            await app.sign_in(app.user(warmup), warmup)
            for person in persons:
                user = app.user(person)
                await user.send("/start")
                await user.press("Войти через Госуслуги")
                stall, _ = await _measure(user.send(person.phone))
                expect(user, "арол")
                result.login_stalls_ms.append(stall)
                stall, step = await _measure(user.send(PASSWORD))
                result.password_stalls_ms.append(stall)
                result.password_steps_ms.append(step)
                await app.after_password(user, person)  # the password was right: signed in
                result.signed_in += 1
        finally:
            await app.stop()
    return result


@dataclass
class ReferenceResult:
    label: str
    stalls_ms: list[float] = field(default_factory=list)
    steps_ms: list[float] = field(default_factory=list)

    @property
    def max_stall_ms(self) -> float:
        return max(self.stalls_ms, default=0.0)


LOWER_PRIORITY = 10


def _lower_priority() -> None:
    """Make the calling thread yield the CPU to the event loop's (Linux: per-thread nice)."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWER_PRIORITY)


async def run_reference(repeats: int) -> list[ReferenceResult]:
    """argon2 verification alone: on the loop, in a worker thread, in a lower-priority one."""
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    loop = asyncio.get_running_loop()

    async def on_loop() -> None:
        hasher.verify(stored, PASSWORD)

    results: list[ReferenceResult] = []
    plain = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-cpu")
    lowered = (
        ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="bench-cpu-low", initializer=_lower_priority
        )
        if sys.platform == "linux"
        else None
    )
    variants: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("verify on the event loop", on_loop),
        (
            "verify in a worker thread",
            lambda: loop.run_in_executor(plain, hasher.verify, stored, PASSWORD),
        ),
    ]
    if lowered is not None:
        variants.append(
            (
                f"verify in a worker thread at nice {LOWER_PRIORITY}",
                lambda: loop.run_in_executor(lowered, hasher.verify, stored, PASSWORD),
            )
        )
    try:
        for label, make in variants:
            result = ReferenceResult(label)
            for _ in range(repeats):
                stall, step = await _measure(make())
                result.stalls_ms.append(stall)
                result.steps_ms.append(step)
            results.append(result)
    finally:
        plain.shutdown()
        if lowered is not None:
            lowered.shutdown()
    return results
