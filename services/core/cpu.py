"""CPU-heavy work off the event loop: password hashing, file checks, later charts and signing.

A bounded thread pool, sized by the ``CPU_WORKERS`` setting. The work it runs
releases the GIL for its heavy part (argon2-cffi's C code, Pillow's decoders),
so the event loop keeps serving other chats while a password is checked.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["CpuPool"]


class CpuPool:
    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError("a CPU pool needs at least one worker")
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="cpu")
        return self._executor

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` in the pool; the caller waits, the loop does not."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
