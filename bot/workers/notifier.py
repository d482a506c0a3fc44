"""The notifier worker: sends due rows of the notification outbox through the Bot API.

Row states (``notification_outbox.status``)::

    pending ──claim──► pending+lease ──mark──► sending ──► sent
       ▲                     │                   ├──► pending   (429; network error / 5xx)
       └─────── release ─────┘                   ├──► failed    (400/404; retries exhausted)
                                                 ├──► blocked   (403: the user blocked the bot)
                                                 └──► unknown   (died mid-send; unexpected error)

Every state change is its own unit of work, committed at once: the claim, the
move to ``sending`` and the result.

Delivery is at most once, with one stated exception:

* A row is committed as ``sending`` *before* the API call and as ``sent`` (with
  ``sent_at`` and ``telegram_message_id``) after it. If the process dies
  between the two, nobody knows whether Telegram got the message. Such a row
  stays ``sending`` until its lease (``claimed_until``) runs out; then the next
  batch of any worker marks it ``unknown`` and logs its id. It is never sent
  again by this worker's logic: a lost notification is preferred to a
  duplicate (the user can always open the menu; a duplicate medical message
  is confusing).
* The exception: a ``TelegramNetworkError`` (timeout, dropped connection) also
  leaves delivery unknown, but the spec demands retries for network errors, so
  the row goes back to ``pending`` with a backoff and is sent again. If the
  lost request had in fact reached Telegram, the user gets that message twice.
  This narrow case is the only way a row can be delivered twice.
* Two workers never take the same row: the claim uses ``FOR UPDATE SKIP
  LOCKED`` and a lease, and the move to ``sending`` is a compare-and-set on the
  claim (status still ``pending`` and ``claimed_until`` still this worker's),
  so a worker whose claim expired and was taken over sends nothing.

Telegram's limits are held per process: at most ``rate_per_second`` API calls in
all (evenly spaced, no bursts) and at most one per ``per_chat_interval`` to a
chat. A batch holds at most one row per chat; the chat's other rows are given
back due ``per_chat_interval`` later, so a busy chat never holds up the others.
With several worker processes, give each its share of the total rate.

Logs name rows and chats by their ids only: the text may be medical.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
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

from handlers.push import callback_data_of
from services.core.gateways import Clock, SystemClock
from storage.uow import UnitOfWorkFactory

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

# How long the notifier stops sending after Telegram says the token is invalid
# (a configuration error: the rows wait, they are not failed).
UNAUTHORIZED_PAUSE_SECONDS = 60.0
ERROR_MAX_LENGTH = 200
EXPIRED_SENDING_ERROR = "lease expired while sending: delivery unknown, not re-sent"


@dataclass
class _Job:
    """A claimed row, copied out of its unit of work."""

    id: int
    chat_id: int
    attempts: int
    claim: datetime
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
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if max_attempts < 1 or batch_size < 1 or max_in_flight < 1:
            raise ValueError("max_attempts, batch_size and max_in_flight must be at least 1")
        if lease_seconds <= send_timeout:
            # A send still running when its lease ends would be marked unknown by others.
            raise ValueError("lease_seconds must exceed send_timeout")
        self._uow_factory = uow_factory
        self._bot = bot
        self._interval = 1.0 / rate_per_second
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
        # Rate state, on the monotonic clock.
        self._next_slot = float("-inf")
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
            except Exception:
                log.exception("notifier: batch failed; retrying after %.1f s", poll_seconds)
                handled = 0
            if handled and not stop.is_set():
                continue
            delay = max(poll_seconds, self.paused_for())
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
            rows = await uow.core.outbox.claim_due(now, claim, self._batch_size)
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
                        text=row.text,
                        markup=markup,
                    )
                )
            await uow.commit()
        for row_id in expired:
            log.error(
                "notification %d: left in sending by a stopped worker; marked unknown, not re-sent",
                row_id,
            )
        for row_id, error in broken:
            log.error("notification %d: failed, its buttons are invalid (%s)", row_id, error)
        if jobs:
            log.debug("notifier: claimed %d rows", len(jobs))
        return jobs

    async def _dispatch(self, jobs: list[_Job]) -> int:
        """Send the jobs within the rate limits; each send runs as its own task."""
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
                ready = max(self._next_slot, self._chat_ready.get(job.chat_id, float("-inf")))
                if ready > now:
                    await self._sleep(ready - now)
                    continue  # look again: a 429 may have paused us meanwhile
                waiting.remove(job)
                if not await self._mark_sending(job):
                    continue
                sent_at = self._monotonic()
                if self._paused_until > sent_at:
                    # A 429 arrived while the row was being marked: give it back unsent.
                    outcome = self._reschedule(
                        job, self._paused_until - sent_at, "paused before sending", count=False
                    )
                    await self._save(job.id, outcome)
                    continue
                self._next_slot = sent_at + self._interval
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
        except (TelegramNetworkError, TelegramServerError, TelegramAPIError) as exc:
            # Network errors and 5xx: retried with backoff. After a network error delivery is
            # unknown, so the retry may duplicate the message (the one such case; see above).
            return self._retry_or_fail(job, _describe(exc, self._bot))
        except Exception as exc:
            # Not an answer from Telegram (e.g. an undecodable response): delivery unknown,
            # so at most once: the row is not sent again.
            log.error(
                "notification %d to chat %d: delivery unknown (%s at %s)",
                job.id,
                chat,
                type(exc).__name__,
                _where(exc),
            )
            unknown: dict[str, Any] = {
                "status": "unknown",
                "claimed_until": None,
                "last_error": type(exc).__name__,
            }
            return _Outcome(unknown, chat)
        log.info("notification %d sent to chat %d as message %d", job.id, chat, message.message_id)
        values: dict[str, Any] = {
            "status": "sent",
            "claimed_until": None,
            "sent_at": self._clock.now(),
            "telegram_message_id": message.message_id,
            "last_error": None,
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

    def _retry_or_fail(self, job: _Job, error: str) -> _Outcome:
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
        log.warning(
            "notification %d to chat %d: attempt %d failed (%s); retry in %.1f s",
            job.id,
            job.chat_id,
            attempts,
            error,
            delay,
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
