"""The notifier worker: sends due rows of the notification outbox through the Bot API.

Row states (``notification_outbox.status``)::

    pending ──claim──► pending+lease ──mark──► sending ──► sent
       ▲                     │                   ├──► pending   (429; network error / 5xx)
       └─────── release ─────┘                   ├──► failed    (400/404; retries exhausted)
                                                 ├──► blocked   (403: the user blocked the bot)
                                                 └──► unknown   (died mid-send; unexpected error)

Every state change is its own unit of work, committed at once: the claim, the
move to ``sending`` and the result.

Delivery is **at least once**: no push is lost, and a push is sent again only
when Telegram cannot tell whether it delivered the first one.

* A row is committed as ``sending`` *before* the API call and as ``sent`` (with
  ``sent_at`` and ``telegram_message_id``) after it.
* Where Telegram refused the message (429, 400, 403, 404, 401) it was not
  delivered: the row is retried (429), settled (400/403/404) or waits (401).
* Where delivery is unknown — a network error or timeout (the response may be
  lost after Telegram sent the message), a 5xx (a gateway in front of the Bot API
  may fail after the message went out), an answer that cannot be read, or the
  process dying between ``sending`` and the result (the row's lease runs out and
  the next batch of any worker gives it back) — the row goes back to ``pending``
  with a backoff and is sent again. Each such retry is a *possible duplicate*: it
  is logged with the row id ("delivery unknown … possible duplicate"), counted in
  :attr:`Notifier.possible_duplicates`, and a row that was sent after one keeps
  ``last_error`` = ``possible duplicate: <what happened>``, so
  ``status = 'sent' AND last_error LIKE 'possible duplicate%'`` counts the rows
  a person may have received twice. The Bot API has no idempotency key, so this
  is the least it can be: a lost medical notification is worse than a repeated one.
* After ``max_attempts`` tries the row is ``failed`` (logged with its id).
* Two workers never take the same row: the claim uses ``FOR UPDATE SKIP
  LOCKED`` and a lease, and the move to ``sending`` is a compare-and-set on the
  claim (status still ``pending`` and ``claimed_until`` still this worker's),
  so a worker whose claim expired and was taken over sends nothing.

Telegram's limits: at most ``rate_per_second`` messages in all, evenly spaced (no
bursts), and at most one per ``per_chat_interval`` to a chat, through a
:class:`~bot.workers.limits.SendLimiter`. With Redis every notifier process shares
one limiter (``RedisLimiter``), so several processes together keep the configured
total and per-chat rate; without it (SQLite, one process) the limiter is the
process's own (``LocalLimiter``). A batch holds at most one row per chat; the
chat's other rows are given back due ``per_chat_interval`` later, so a busy chat
never holds up the others.

When the database (or Redis, for the shared limiter) is down, the loop backs off
(doubling, up to ``outage_backoff_max``) and logs one line when the outage starts
and one when it ends (``bot.outage.Outage``), not one per batch or row.

Logs name rows and chats by their ids only: the text may be medical.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.outage import Outage, is_outage
from bot.workers.limits import LocalLimiter, SendLimiter
from handlers.push import callback_data_of
from services.core.gateways import Clock, SystemClock
from storage.uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

# How long the notifier stops sending after Telegram says the token is invalid
# (a configuration error: the rows wait, they are not failed).
UNAUTHORIZED_PAUSE_SECONDS = 60.0
ERROR_MAX_LENGTH = 200
EXPIRED_SENDING_ERROR = "lease expired while sending"
# `last_error` of a row whose last try may have been delivered; of a sent row after one.
UNKNOWN_PREFIX = "delivery unknown: "
DUPLICATE_PREFIX = "possible duplicate: "


@dataclass
class _Job:
    """A claimed row, copied out of its unit of work."""

    id: int
    chat_id: int
    attempts: int
    claim: datetime
    last_error: str | None
    text: str = field(repr=False)  # may be medical: never logged
    markup: InlineKeyboardMarkup | None = field(repr=False)


@dataclass
class _Outcome:
    """The result of one send: the row's new column values, and whether the chat blocked us."""

    values: dict[str, Any]
    chat_id: int
    chat_blocked: bool = False
    error: str | None = None


class Notifier:
    """Delivers the outbox. One instance per process; `run` is its loop."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        bot: Bot,
        *,
        rate_per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        max_attempts: int = 5,
        batch_size: int = 50,
        lease_seconds: float = 120.0,
        send_timeout: int = 30,
        max_in_flight: int = 16,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        jitter: float = 0.1,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: SendLimiter | None = None,
        outage_backoff_max: float = 30.0,
        chats: Collection[int] | None = None,
    ) -> None:
        """`chats`: deliver only to these chats and leave the others' rows to other notifiers
        (the console demo: each terminal is one person's Telegram and sends only theirs)."""
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if max_attempts < 1 or batch_size < 1 or max_in_flight < 1:
            raise ValueError("max_attempts, batch_size and max_in_flight must be at least 1")
        if lease_seconds <= send_timeout:
            # A send still running when its lease ends would be marked unknown by others.
            raise ValueError("lease_seconds must exceed send_timeout")
        self._uow_factory = uow_factory
        self._bot = bot
        self._chats = frozenset(chats) if chats is not None else None
        self._per_chat_interval = per_chat_interval
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._send_timeout = send_timeout
        self._max_in_flight = max_in_flight
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._jitter = jitter
        self._clock: Clock = clock or SystemClock()
        self._monotonic = monotonic
        self._sleep = sleep
        self._random = random.Random()
        self._limiter: SendLimiter = limiter or LocalLimiter(
            rate_per_second, per_chat_interval, monotonic=monotonic
        )
        self.outage = Outage("notifier", cap=outage_backoff_max, logger=log, monotonic=monotonic)
        # Sends after which delivery was unknown and the row was (or will be) sent again.
        self.possible_duplicates = 0
        # When each chat may be tried again (a hint on the monotonic clock; the limiter rules).
        self._chat_ready: dict[int, float] = {}
        self._paused_until = float("-inf")
        # Results sent but not yet written (the database failed): written first next time.
        self._unsaved: dict[int, _Outcome] = {}

    # -- public ----------------------------------------------------------------

    def paused_for(self) -> float:
        """Seconds left of a pause ordered by Telegram (429 retry_after), or 0."""
        return max(0.0, self._paused_until - self._monotonic())

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set; idle `poll_seconds` between empty batches.

        Never dies on an error: a failed batch is logged and the loop goes on.
        """
        log.info("notifier started")
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as exc:
                if is_outage(exc):
                    self.outage.failed(exc)
                else:
                    log.exception("notifier: batch failed; retrying after %.1f s", poll_seconds)
                handled = 0
            else:
                if not self._unsaved:
                    self.outage.recovered()
            if handled and not stop.is_set():
                continue
            delay = max(poll_seconds, self.paused_for(), self.outage.delay())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        log.info("notifier stopped")

    async def run_once(self) -> int:
        """Claim a batch of due rows and deliver them; returns how many were sent or tried."""
        await self._save_unsaved()
        if self.paused_for() > 0:
            return 0
        jobs = await self._claim()
        if not jobs:
            return 0
        return await self._dispatch(jobs)

    # -- the batch -------------------------------------------------------------

    async def _claim(self) -> list[_Job]:
        now = self._clock.now()
        claim = now + self._lease
        later = now + timedelta(seconds=self._per_chat_interval)
        jobs: list[_Job] = []
        broken: list[tuple[int, str]] = []
        async with self._uow_factory() as uow:
            # Rows whose sender died mid-send become `unknown` first. The UPDATE also makes
            # this transaction a writer from its first statement, which SQLite needs to
            # wait for its lock rather than fail as a reader turned writer.
            expired = await uow.core.outbox.expire_sending(now, EXPIRED_SENDING_ERROR)
            given_back = [await self._give_back_expired(uow, row_id, now) for row_id in expired]
            rows = await uow.core.outbox.claim_due(now, claim, self._batch_size, self._chats)
            seen: set[int] = set()
            for row in rows:
                if row.chat_id in seen:
                    # One row per chat per batch: the rest wait their turn, unclaimed.
                    row.claimed_until = None
                    row.due_at = later
                    continue
                seen.add(row.chat_id)
                try:
                    markup = _keyboard(row.buttons)
                except Exception as exc:
                    # Bad button data never gets better: fail the row without sending it.
                    error = _describe(exc, self._bot)
                    row.status = "failed"
                    row.claimed_until = None
                    row.last_error = error
                    broken.append((row.id, error))
                    continue
                jobs.append(
                    _Job(
                        id=row.id,
                        chat_id=row.chat_id,
                        attempts=row.attempts,
                        claim=claim,
                        last_error=row.last_error,
                        text=row.text,
                        markup=markup,
                    )
                )
            await uow.commit()
        for row_id, again in zip(expired, given_back, strict=True):
            if again:
                self.possible_duplicates += 1
                log.warning(
                    "notification %d: left in sending by a stopped worker; delivery unknown, "
                    "sending again (possible duplicate)",
                    row_id,
                )
            else:
                log.error(
                    "notification %d: left in sending by a stopped worker; failed after %d "
                    "attempts",
                    row_id,
                    self._max_attempts,
                )
        for row_id, error in broken:
            log.error("notification %d: failed, its buttons are invalid (%s)", row_id, error)
        if jobs:
            log.debug("notifier: claimed %d rows", len(jobs))
        return jobs

    async def _give_back_expired(self, uow: UnitOfWork, row_id: int, now: datetime) -> bool:
        """A row its sender left in ``sending``: pending again (True), or failed when spent."""
        found = await uow.core.outbox.get(row_id)
        if found is None:  # pragma: no cover - the UPDATE just returned it
            return False
        found.attempts += 1
        found.claimed_until = None
        if found.attempts >= self._max_attempts:
            found.status = "failed"
            found.last_error = UNKNOWN_PREFIX + EXPIRED_SENDING_ERROR
            return False
        found.status = "pending"
        found.due_at = now
        found.last_error = UNKNOWN_PREFIX + EXPIRED_SENDING_ERROR
        return True

    async def _dispatch(self, jobs: list[_Job]) -> int:
        """Send the jobs within the rate limits; each send runs as its own task.

        Per job: reserve its slot from the limiter (it may lie a little ahead), mark
        the row ``sending`` meanwhile, wait for the slot, send. A chat the limiter
        refuses (sent to too recently, maybe by another process) is tried again when
        it is free, and the other chats go first.
        """
        self._forget_idle_chats()
        waiting = list(jobs)
        in_flight: set[asyncio.Task[None]] = set()
        handled = 0
        try:
            while waiting:
                now = self._monotonic()
                if self._paused_until > now:
                    await self._release(waiting, self._paused_until - now)
                    break
                job = min(waiting, key=lambda j: self._chat_ready.get(j.chat_id, float("-inf")))
                ready = self._chat_ready.get(job.chat_id, float("-inf"))
                if ready > now:
                    await self._sleep(ready - now)
                    continue  # look again: a 429 may have paused us meanwhile
                try:
                    reservation = await self._limiter.reserve(job.chat_id)
                except Exception:
                    # The shared limiter (Redis) is down: give the rows back, due at once.
                    with contextlib.suppress(Exception):
                        await self._release(waiting, 0.0)
                    raise
                if not reservation.granted:
                    self._chat_ready[job.chat_id] = now + reservation.wait
                    continue
                waiting.remove(job)
                slot = now + reservation.wait
                if not await self._mark_sending(job):
                    continue
                # Marking took part of the wait: the slot, not "now + interval", sets the pace.
                left = slot - self._monotonic()
                if left > 0:
                    await self._sleep(left)
                sent_at = self._monotonic()
                if self._paused_until > sent_at:
                    # A 429 arrived while the row was being marked: give it back unsent.
                    outcome = self._reschedule(
                        job, self._paused_until - sent_at, "paused before sending", count=False
                    )
                    await self._save(job.id, outcome)
                    continue
                self._chat_ready[job.chat_id] = sent_at + self._per_chat_interval
                in_flight.add(asyncio.create_task(self._deliver(job)))
                handled += 1
                if len(in_flight) >= self._max_in_flight:
                    _done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
        finally:
            if in_flight:
                await asyncio.gather(*in_flight)
        return handled

    def _forget_idle_chats(self) -> None:
        now = self._monotonic()
        for chat_id in [c for c, ready in self._chat_ready.items() if ready <= now]:
            del self._chat_ready[chat_id]

    async def _release(self, jobs: Sequence[_Job], delay: float) -> None:
        """Give back claimed rows not yet sent (Telegram paused us), due after the pause."""
        due = self._clock.now() + timedelta(seconds=delay)
        async with self._uow_factory() as uow:
            for claim in {j.claim for j in jobs}:
                ids = [j.id for j in jobs if j.claim == claim]
                await uow.core.outbox.release(ids, claimed_until=claim, due_at=due)
            await uow.commit()
        log.info("notifier: paused %.1f s, gave back %d claimed rows", delay, len(jobs))

    async def _mark_sending(self, job: _Job) -> bool:
        try:
            async with self._uow_factory() as uow:
                ok = await uow.core.outbox.start_sending(
                    job.id, claimed_until=job.claim, lease_until=self._clock.now() + self._lease
                )
                await uow.commit()
        except Exception as exc:
            # Nothing was sent: the row keeps its claim and is taken again when it lapses.
            if is_outage(exc):
                raise  # the database is down: the batch stops, `run` backs off (one log line)
            log.error(
                "notification %d: could not be marked sending (%s at %s); skipped",
                job.id,
                type(exc).__name__,
                _where(exc),
            )
            return False
        if not ok:
            log.info("notification %d: no longer ours to send (taken or settled); skipped", job.id)
        return ok

    # -- one send ----------------------------------------------------------------

    async def _deliver(self, job: _Job) -> None:
        """Send one row and write the result. Never raises."""
        try:
            outcome = await self._send(job)
        except Exception as exc:  # a bug in the classification itself
            log.error("notification %d: %s at %s", job.id, type(exc).__name__, _where(exc))
            outcome = _Outcome(
                {"status": "unknown", "claimed_until": None, "last_error": type(exc).__name__},
                job.chat_id,
            )
        await self._save(job.id, outcome)

    async def _send(self, job: _Job) -> _Outcome:
        chat = job.chat_id
        try:
            message = await self._bot.send_message(
                chat_id=chat,
                text=job.text,
                reply_markup=job.markup,
                request_timeout=self._send_timeout,
            )
        except TelegramRetryAfter as exc:
            # Telegram's 429 is about the bot: every send pauses; the row is not at fault.
            wait = max(float(exc.retry_after), 1.0)
            self._paused_until = max(self._paused_until, self._monotonic() + wait)
            log.warning("notification %d to chat %d: 429, retry after %.0f s", job.id, chat, wait)
            with contextlib.suppress(Exception):  # the other processes pause too, if it works
                await self._limiter.pause(wait)
            return self._reschedule(job, wait, _describe(exc, self._bot), count=False)
        except TelegramForbiddenError as exc:
            error = _describe(exc, self._bot)
            log.warning("notification %d to chat %d: bot blocked (%s)", job.id, chat, error)
            blocked = {"status": "blocked", "claimed_until": None, "last_error": error}
            return _Outcome(blocked, chat, chat_blocked=True, error=error)
        except TelegramUnauthorizedError as exc:
            # The token is wrong: a configuration error, not this row's. Wait and keep the row.
            self._paused_until = max(
                self._paused_until, self._monotonic() + UNAUTHORIZED_PAUSE_SECONDS
            )
            log.error("notification %d: the bot token is refused; pausing", job.id)
            return self._reschedule(
                job, UNAUTHORIZED_PAUSE_SECONDS, _describe(exc, self._bot), count=False
            )
        except (
            TelegramBadRequest,
            TelegramNotFound,
            TelegramMigrateToChat,
            TelegramEntityTooLarge,
        ) as exc:
            # Sending it again would get the same answer.
            error = _describe(exc, self._bot)
            log.error("notification %d to chat %d: failed (%s)", job.id, chat, error)
            return _Outcome({"status": "failed", "claimed_until": None, "last_error": error}, chat)
        except (TelegramNetworkError, TelegramServerError) as exc:
            # A lost response or a 5xx: Telegram may have sent it. Retried (a possible duplicate).
            return self._retry_or_fail(job, _describe(exc, self._bot), unknown=True)
        except TelegramAPIError as exc:
            # Any other refusal: not delivered; retried with backoff.
            return self._retry_or_fail(job, _describe(exc, self._bot))
        except Exception as exc:
            # Not an answer from Telegram (e.g. an undecodable response): delivery unknown.
            log.error(
                "notification %d to chat %d: unreadable answer (%s at %s)",
                job.id,
                chat,
                type(exc).__name__,
                _where(exc),
            )
            return self._retry_or_fail(job, type(exc).__name__, unknown=True)
        duplicate = job.last_error is not None and job.last_error.startswith(UNKNOWN_PREFIX)
        log.info(
            "notification %d sent to chat %d as message %d%s",
            job.id,
            chat,
            message.message_id,
            " (possible duplicate)" if duplicate else "",
        )
        values: dict[str, Any] = {
            "status": "sent",
            "claimed_until": None,
            "sent_at": self._clock.now(),
            "telegram_message_id": message.message_id,
            "last_error": (
                DUPLICATE_PREFIX + job.last_error[len(UNKNOWN_PREFIX) :]
                if duplicate and job.last_error is not None
                else None
            ),
        }
        return _Outcome(values, chat)

    def _reschedule(self, job: _Job, delay: float, error: str, *, count: bool) -> _Outcome:
        attempts = job.attempts + 1 if count else job.attempts
        values = {
            "status": "pending",
            "claimed_until": None,
            "due_at": self._clock.now() + timedelta(seconds=delay),
            "attempts": attempts,
            "last_error": error,
        }
        return _Outcome(values, job.chat_id)

    def _retry_or_fail(self, job: _Job, error: str, *, unknown: bool = False) -> _Outcome:
        """Back to pending with a backoff, or failed when the attempts are spent.

        `unknown`: Telegram may have delivered it; sending again is a possible duplicate,
        logged with the row id and counted.
        """
        if unknown:
            error = UNKNOWN_PREFIX + error
        attempts = job.attempts + 1
        if attempts >= self._max_attempts:
            log.error(
                "notification %d to chat %d: failed after %d attempts (%s)",
                job.id,
                job.chat_id,
                attempts,
                error,
            )
            values = {
                "status": "failed",
                "claimed_until": None,
                "attempts": attempts,
                "last_error": error,
            }
            return _Outcome(values, job.chat_id)
        delay = self.backoff(attempts)
        if unknown:
            self.possible_duplicates += 1
        log.warning(
            "notification %d to chat %d: attempt %d failed (%s); retry in %.1f s%s",
            job.id,
            job.chat_id,
            attempts,
            error,
            delay,
            " (possible duplicate)" if unknown else "",
        )
        return self._reschedule(job, delay, error, count=True)

    def backoff(self, attempts: int) -> float:
        """Delay before the next try after `attempts` failed ones: 2, 4, 8 … s, capped, jittered."""
        delay = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempts - 1))
        return delay * (1.0 + self._random.uniform(0.0, self._jitter))

    # -- writing results ---------------------------------------------------------

    async def _save(self, row_id: int, outcome: _Outcome) -> None:
        try:
            await self._write(row_id, outcome)
        except Exception as exc:
            # Kept and written first thing next batch, before stale `sending` rows expire.
            self._unsaved[row_id] = outcome
            if is_outage(exc):
                self.outage.failed(exc)  # one line for the whole outage, not one per row
                return
            log.error(
                "notification %d: result %s not saved (%s at %s); will retry",
                row_id,
                outcome.values.get("status"),
                type(exc).__name__,
                _where(exc),
            )

    async def _save_unsaved(self) -> None:
        for row_id, outcome in list(self._unsaved.items()):
            await self._write(row_id, outcome)  # raises: the batch waits for the database
            del self._unsaved[row_id]

    async def _write(self, row_id: int, outcome: _Outcome) -> None:
        async with self._uow_factory() as uow:
            await uow.core.outbox.set_state(row_id, outcome.values)
            others = 0
            if outcome.chat_blocked:
                await uow.identity.bindings.mark_blocked_by_chat(outcome.chat_id, self._clock.now())
                others = await uow.core.outbox.block_pending_for_chat(
                    outcome.chat_id, outcome.error or "blocked"
                )
            await uow.commit()
        if others:
            log.warning(
                "chat %d: bot blocked; %d other pending notifications marked blocked",
                outcome.chat_id,
                others,
            )


def _keyboard(buttons: Sequence[Any] | None) -> InlineKeyboardMarkup | None:
    """One button per row, from the outbox's ``[{"text", "action"[, "arg"]}]``.

    The callback data is `PushAction`'s, which the push handlers' filters read; rows
    queued before hold ``{"text", "callback_data"}`` and are sent as they were.
    """
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b["text"], callback_data=callback_data_of(b))]
            for b in buttons
        ]
    )


def _describe(exc: BaseException, bot: Bot) -> str:
    """The error's class and short text, for `last_error` and logs.

    Only Telegram's own answer is quoted (it never holds the message text); any other
    error is named by its class alone, since its text might echo the data. The bot's
    token is scrubbed in case a network error quotes the request URL.
    """
    name = type(exc).__name__
    if not isinstance(exc, TelegramAPIError):
        return name
    detail = " ".join(exc.message.split())
    token = getattr(bot, "token", None)
    if token:
        detail = detail.replace(token, "***")
    text = f"{name}: {detail}"
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def _where(exc: BaseException) -> str:
    """Where an error was raised (file:line in function), without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"
