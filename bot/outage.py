"""Outages of the database or Redis: what the person is told, what the logs say.

When PostgreSQL (or the SQLite file) or Redis does not answer, every storage call
fails within its timeout (``DATABASE_*_TIMEOUT_SECONDS``, ``REDIS_*_TIMEOUT_SECONDS``)
with one of the errors :func:`is_outage` recognises.

* The bot: :class:`OutageMiddleware` sits on the dispatcher's updates just outside
  aiogram's FSM middleware — the place where the conversation lock is taken and the
  state is read, so where a Redis outage first surfaces — and inside aiogram's own
  error middleware. It catches an outage error from anything below it (the lock,
  the state, the session middleware, a dialog, a use case), answers the person at
  once with «Сервис временно недоступен…» and ends the update. The error never
  reaches aiogram-dialog's error middleware, which would read the conversation
  state again (from the storage that is down) and fail without an answer. A use
  case's unit of work rolled back; the conversation state was not written; so the
  next update after the outage goes on from where the person was.
* Workers: :class:`Outage` keeps one outage per component. The first failure logs
  one ERROR line, the first success afterwards one WARNING line with how long it
  lasted and how many attempts failed; in between the worker waits
  :meth:`Outage.delay` (doubling up to ``WORKER_OUTAGE_BACKOFF_MAX_SECONDS``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.types import TelegramObject, Update
from sqlalchemy import exc as sa_errors

from handlers.errors import tell_unavailable
from storage.fsm import REDIS_OUTAGE_ERRORS

__all__ = ["Outage", "OutageMiddleware", "install_outage_middleware", "is_outage"]

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Database errors that say "the server is not there", not "this statement is wrong".
_DATABASE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_errors.OperationalError,  # refused, reset, "database is locked", cannot open the file
    sa_errors.InterfaceError,  # the connection is closed
    sa_errors.TimeoutError,  # no pooled connection within DATABASE_POOL_TIMEOUT_SECONDS
)
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    *REDIS_OUTAGE_ERRORS,
    *_DATABASE_OUTAGE_ERRORS,
    OSError,  # a refused or reset socket that no driver wrapped (ConnectionError is one)
    TimeoutError,  # asyncpg's connect and command timeouts; asyncio.timeout
)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) means the database or Redis is unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _OUTAGE_ERRORS):
            return True
        if isinstance(current, sa_errors.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


class Outage:
    """One component's outage: logged once when it starts and once when it ends.

    ``failed(exc)`` after every failed attempt, ``recovered()`` after every good
    one; ``delay()`` is how long to wait before the next attempt.
    """

    def __init__(
        self,
        name: str,
        *,
        base: float = 1.0,
        cap: float = 30.0,
        logger: logging.Logger | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base = base
        self.cap = max(cap, base)
        self._log = logger or log
        self._monotonic = monotonic
        self.failures = 0  # failed attempts in the current outage
        self.started_at: float | None = None
        self.outages = 0  # how many have started, for tests and metrics

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.started_at is None:
            self.started_at = self._monotonic()
            self.outages += 1
            self._log.error(
                "%s: storage unavailable (%s); retrying with backoff up to %.0f s",
                self.name,
                _name(exc),
                self.cap,
            )

    def recovered(self) -> None:
        if self.started_at is None:
            return
        lasted = self._monotonic() - self.started_at
        self._log.warning(
            "%s: storage back after %.1f s (%d failed attempts)", self.name, lasted, self.failures
        )
        self.started_at = None
        self.failures = 0

    def delay(self) -> float:
        """The pause before the next attempt: base, 2×base, 4×base … up to the cap."""
        if not self.failures:
            return 0.0
        return float(min(self.cap, self.base * 2.0 ** (self.failures - 1)))


def _name(exc: BaseException) -> str:
    """The error's class, and its cause's: never its message (it may quote parameters)."""
    cause = exc.__cause__ or exc.__context__
    if cause is not None and type(cause) is not type(exc):
        return f"{type(exc).__name__} from {type(cause).__name__}"
    return type(exc).__name__


class OutageMiddleware(BaseMiddleware):
    """Answers «Сервис временно недоступен…» to an update that met an outage.

    Logged once per outage (``bot: storage unavailable …`` and ``bot: storage back …``),
    not once per update.
    """

    def __init__(self, outage: Outage | None = None) -> None:
        self.outage = outage or Outage("bot")

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            result = await handler(event, data)
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.outage.failed(exc)
            update_id = event.update_id if isinstance(event, Update) else None
            log.info("update %s: answered unavailable (%s)", update_id, _name(exc))
            bot = data.get("bot")
            if isinstance(event, Update) and isinstance(bot, Bot):
                try:
                    await tell_unavailable(event, bot)
                except Exception as tell_error:
                    log.warning("update %s: could not answer (%s)", update_id, _name(tell_error))
            return None
        self.outage.recovered()
        return result


def install_outage_middleware(dp: Dispatcher, middleware: OutageMiddleware) -> None:
    """Put `middleware` just outside aiogram's FSM middleware (inside its error middleware).

    aiogram registers its error, user-context and FSM middlewares first and offers
    only appending; the outage middleware has to run before the FSM one takes the
    conversation lock, so it is inserted in front of it.
    """
    outer = dp.update.outer_middleware
    position = list(outer).index(dp.fsm) if dp.fsm in outer else len(outer)
    outer._middlewares.insert(position, middleware)  # aiogram has no insert API


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    if seconds <= 0 or stop.is_set():
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
