"""How fast the notifier may send: the total rate and the per-chat interval.

Both limiters here are the same rule, GCRA (the "generic cell rate algorithm", a
token bucket kept as one timestamp) with no burst: sends are evenly spaced
``1 / rate`` apart, and one chat gets at most one send per ``per_chat_interval``.
A *reservation* hands out the next free slot — possibly a little in the future —
and says how long to wait for it; the caller waits and sends. Slots follow each
other on an ideal timeline (the next one is the previous one plus the interval,
not "now" plus the interval), so the time a sender spends between two sends
(marking the row, the database) does not slow the rate down.

* :class:`LocalLimiter` — in the process (SQLite, one notifier).
* :class:`RedisLimiter` — one limiter that every notifier process sharing the Redis
  uses: a Lua script reserves the total slot and the chat's slot atomically, on
  Redis's own clock (``TIME``), in one round trip. Several processes together keep
  the configured total and per-chat rate, not each of them.

Why a Lua GCRA and not the ``limits`` library: ``limits`` answers "may I, now?"
(hit or refuse), so every process would have to poll for its turn — wasted round
trips, and a rate that lands wherever the polling falls. A reservation answers
"your slot is in 23 ms", keeps the sends evenly spaced across processes (Telegram
dislikes bursts) and checks the chat and the total in the same atomic step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol, cast

from redis.asyncio import Redis

__all__ = ["LocalLimiter", "RedisLimiter", "Reservation", "SendLimiter"]


class Reservation(NamedTuple):
    """``granted``: a send slot is ours, ``wait`` seconds from now (0: at once).

    Not granted: the chat had a send less than ``per_chat_interval`` ago; it is free
    again in ``wait`` seconds, and nothing was reserved.
    """

    granted: bool
    wait: float


class SendLimiter(Protocol):
    async def reserve(self, chat_id: int) -> Reservation:
        """The next send slot for `chat_id` (see :class:`Reservation`)."""

    async def pause(self, seconds: float) -> None:
        """No slot before `seconds` from now (Telegram's 429 ``retry_after``)."""


class LocalLimiter:
    """GCRA in the process, on a monotonic clock."""

    def __init__(
        self,
        rate_per_second: float,
        per_chat_interval: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = 1.0 / rate_per_second
        self.per_chat_interval = max(0.0, per_chat_interval)
        self._monotonic = monotonic
        self._next = float("-inf")  # the theoretical arrival time of the next slot
        self._chats: dict[int, float] = {}

    async def reserve(self, chat_id: int) -> Reservation:
        now = self._monotonic()
        free_at = self._chats.get(chat_id, float("-inf"))
        if free_at > now:
            return Reservation(False, free_at - now)
        slot = max(self._next, now)
        self._next = slot + self.interval
        if self.per_chat_interval > 0:
            self._chats[chat_id] = slot + self.per_chat_interval
        if len(self._chats) > 10_000:
            self._chats = {c: t for c, t in self._chats.items() if t > now}
        return Reservation(True, slot - now)

    async def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._monotonic() + seconds)


# KEYS[1]: the total's timestamp, KEYS[2]: the chat's. ARGV: interval, per-chat interval
# (microseconds). Timestamps are microseconds on Redis's clock; doubles hold them exactly
# (< 2^53) and string.format keeps them from being written as 1.7e+15.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local per_chat = tonumber(ARGV[2])
local chat_free = tonumber(redis.call('GET', KEYS[2]) or '0')
if chat_free > now then
  return {0, string.format('%.0f', chat_free - now)}
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local next_slot = slot + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_slot),
  'PX', math.ceil((next_slot - now) / 1000) + 1000)
if per_chat > 0 then
  redis.call('SET', KEYS[2], string.format('%.0f', slot + per_chat),
    'PX', math.ceil((slot + per_chat - now) / 1000) + 1000)
end
return {1, string.format('%.0f', slot - now)}
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > slot then
  redis.call('SET', KEYS[1], string.format('%.0f', until_),
    'PX', math.ceil((until_ - now) / 1000) + 1000)
end
return 1
"""


class RedisLimiter:
    """The same GCRA in Redis, shared by every notifier that uses the same `prefix`.

    Raises the Redis client's errors (``storage.fsm.REDIS_OUTAGE_ERRORS``) when
    Redis is down: the notifier then waits with the outage backoff rather than
    send without the shared limit.
    """

    def __init__(
        self,
        redis: Redis,
        rate_per_second: float,
        per_chat_interval: float,
        *,
        prefix: str = "emk",
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.redis = redis
        self.interval_us = round(1_000_000 / rate_per_second)
        self.per_chat_us = round(max(0.0, per_chat_interval) * 1_000_000)
        self.total_key = f"{prefix}:notify:rate"
        self.chat_prefix = f"{prefix}:notify:chat:"
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)

    async def reserve(self, chat_id: int) -> Reservation:
        answer = await cast(
            Awaitable[list[int | bytes]],
            self._reserve(
                keys=[self.total_key, f"{self.chat_prefix}{chat_id}"],
                args=[self.interval_us, self.per_chat_us],
            ),
        )
        granted, wait_us = int(answer[0]), int(answer[1])
        return Reservation(bool(granted), wait_us / 1_000_000)

    async def pause(self, seconds: float) -> None:
        await cast(
            Awaitable[int],
            self._pause(keys=[self.total_key], args=[math.ceil(seconds * 1_000_000)]),
        )
