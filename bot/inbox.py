"""The durable inbox: every update the bot receives is handled once, after a crash too.

An update is written to the database (`update_inbox`, sealed with SECRET_KEY)
before Telegram hears that it arrived — before the next getUpdates offset moves
past it, before the webhook answers 200 — and handled from there:

- a second delivery of the same update (the same update_id) finds its row and
  is dropped, so a wrong password is counted once and a doubled «Отправить» is
  pressed once;
- one chat's updates are handled one after another in update_id order, chats in
  parallel;
- a row being handled is leased by this process (renewed while it works); a
  process killed mid-update leaves a lease that expires, and the next start (or
  another process) handles the row again — at least once: what the handler
  committed before the crash stays;
- a handled row keeps only its update_id (the payload is dropped at once) and
  is deleted a day later (Telegram keeps an update no longer than that);
- an update whose handling killed the process `MAX_ATTEMPTS` times is given up.

No payload is ever logged: it may hold a typed password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from pydantic import ValidationError

from bot.app import Runtime
from bot.outage import Outage, is_outage
from services.core.sealing import SealError, seal, unseal
from storage.repositories.inbox import NewUpdate
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

SEAL_PURPOSE = "update-inbox"
# Handling an update that killed the process this many times is not tried again.
MAX_ATTEMPTS = 3
KEEP_DONE = timedelta(days=1)
CLEANUP_EVERY_SECONDS = 600.0
# Rows looked at per pass (the oldest pending ones; a chat's head row is taken).
SCAN_LIMIT = 200
MAX_IN_FLIGHT = 100


class MalformedUpdate(Exception):
    """A stored update aiogram cannot read (the message names no values)."""


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its order is kept within it), or None."""
    for key, event in update.items():
        if key == "update_id" or not isinstance(event, dict):
            continue
        for holder in (event, event.get("message")):
            if isinstance(holder, dict):
                chat = holder.get("chat")
                if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                    return int(chat["id"])
        sender = event.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def inbox_for(runtime: Runtime, bot: Bot) -> UpdateInbox:
    return UpdateInbox(
        runtime.uow_factory,
        runtime.dispatcher,
        bot,
        runtime.ctx.secret_key,
        lease_seconds=runtime.settings.inbox_lease_seconds,
    )


def _owner_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UpdateInbox:
    """Stores updates (`receive`) and handles them through the dispatcher (`run`)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        dispatcher: Dispatcher,
        bot: Bot,
        secret_key: bytes,
        *,
        lease_seconds: float = 60.0,
        now: Callable[[], datetime] = _utcnow,
        owner: str | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.dispatcher = dispatcher
        self.bot = bot
        self.bot_id = bot.id
        self.secret_key = secret_key
        self.lease = timedelta(seconds=lease_seconds)
        self.now = now
        self.owner = owner or _owner_id()
        self._wake = asyncio.Event()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._busy_chats: set[int] = set()
        self._draining = False
        self._poll = min(1.0, lease_seconds / 4)
        self.outage = Outage("update inbox", logger=log)

    # -- receiving --------------------------------------------------------

    def _bound_to(self, update_id: int) -> str:
        return f"{self.bot_id}:{update_id}"

    async def receive(self, updates: Sequence[dict[str, Any]]) -> int:
        """Store the updates (one transaction); how many were new. Raises if not stored."""
        items = [
            NewUpdate(
                update_id=int(update["update_id"]),
                chat_id=chat_of(update),
                payload=seal(
                    self.secret_key,
                    SEAL_PURPOSE,
                    self._bound_to(int(update["update_id"])),
                    json.dumps(update, ensure_ascii=False),
                ),
            )
            for update in updates
        ]
        async with self.uow_factory() as uow:
            new = await uow.inbox.updates.add_new(self.bot_id, items, self.now())
            await uow.commit()
        if new < len(items):
            log.info("%d update(s) delivered again, dropped", len(items) - new)
        self._wake.set()
        return new

    # -- handling ---------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, *, until_idle: bool = False) -> None:
        """Handle stored updates until cancelled, `shutdown`, or (`until_idle`) nothing is left.

        Cancelled, it gives up the updates it is handling (their leases are
        released, so the next start takes them at once).
        """
        self._draining = until_idle
        loop = asyncio.get_running_loop()
        next_cleanup = loop.time()
        next_renewal = loop.time() + self.lease.total_seconds() / 3
        try:
            while True:
                self._wake.clear()
                started = 0
                try:
                    started = await self._start_ready()
                    if loop.time() >= next_renewal and self._tasks:
                        await self._renew()
                        next_renewal = loop.time() + self.lease.total_seconds() / 3
                    if loop.time() >= next_cleanup:
                        await self._cleanup()
                        next_cleanup = loop.time() + CLEANUP_EVERY_SECONDS
                except Exception as exc:
                    if is_outage(exc):
                        self.outage.failed(exc)  # one line when it starts, one when it ends
                    else:
                        log.error("update inbox: a pass failed (%s)", type(exc).__name__)
                else:
                    self.outage.recovered()
                if self._draining and not self._tasks and not started:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            await self._abandon()

    async def shutdown(self, runner: asyncio.Task[None], grace: float) -> None:
        """Take no new updates from elsewhere; finish what is stored within `grace` seconds."""
        self._draining = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(runner), grace)
        except TimeoutError:
            log.warning(
                "shutdown: %d update(s) not finished in %s s; handled after the next start",
                self.in_flight,
                grace,
            )
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    async def _start_ready(self) -> int:
        if len(self._tasks) >= MAX_IN_FLIGHT:
            return 0
        now = self.now()
        async with self.uow_factory() as uow:
            pending = await uow.inbox.updates.pending(self.bot_id, SCAN_LIMIT)
        seen_chats: set[int] = set()
        started = 0
        for row in pending:
            if row.chat_id is not None:
                if row.chat_id in seen_chats:
                    continue  # only a chat's oldest pending update may go
                seen_chats.add(row.chat_id)
                if row.chat_id in self._busy_chats:
                    continue
            if row.id in self._tasks:
                continue
            if row.lease_until is not None and row.lease_until >= now:
                continue  # another process handles it (or a dead one's lease runs out)
            async with self.uow_factory() as uow:
                attempts = await uow.inbox.updates.claim(row.id, self.owner, now, now + self.lease)
                await uow.commit()
            if attempts is None:
                continue
            if row.chat_id is not None:
                self._busy_chats.add(row.chat_id)
            task = asyncio.create_task(
                self._handle(row.id, row.update_id, row.chat_id, attempts),
                name=f"update-{row.update_id}",
            )
            self._tasks[row.id] = task
            log.debug("update %s taken (attempt %d)", row.update_id, attempts)
            started += 1
            if len(self._tasks) >= MAX_IN_FLIGHT:
                break
        return started

    async def _handle(
        self, row_id: int, update_id: int, chat_id: int | None, attempts: int
    ) -> None:
        try:
            if attempts > MAX_ATTEMPTS:
                log.error("update %s given up after %d attempts", update_id, attempts - 1)
            else:
                await self._feed(row_id, update_id)
        except asyncio.CancelledError:
            raise
        except SealError:
            log.error("update %s does not open with SECRET_KEY; dropped", update_id)
        except MalformedUpdate as exc:
            log.error("update %s is not a valid update (%s); dropped", update_id, exc)
        except Exception:
            # As aiogram's polling does: the update was processed, unsuccessfully.
            log.exception("update %s failed", update_id)
        finally:
            if chat_id is not None:
                self._busy_chats.discard(chat_id)
            self._wake.set()
        try:
            await self._mark_done(row_id, update_id)
        finally:
            self._tasks.pop(row_id, None)
            self._wake.set()

    async def _mark_done(self, row_id: int, update_id: int) -> None:
        """Mark the handled update done; while the database is down, try again.

        Handling it again once its lease ran out would answer the person twice (and
        hold their later updates back until then), so an outage here is waited out:
        the row stays this process's (its lease is renewed) until the mark lands. Any
        other error, or a stop meanwhile, leaves it to the lease: handled at least once.
        """
        delay = 0.5
        while True:
            try:
                async with self.uow_factory() as uow:
                    await uow.inbox.updates.mark_done(row_id, self.now())
                    await uow.commit()
            except Exception as exc:
                if not is_outage(exc):
                    log.error(
                        "update %s handled but not marked done (%s)", update_id, type(exc).__name__
                    )
                    return
                self.outage.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.debug("update %s done", update_id)
            return

    async def _feed(self, row_id: int, update_id: int) -> None:
        async with self.uow_factory() as uow:
            sealed = await uow.inbox.updates.payload(row_id)
        if sealed is None:
            return
        raw = json.loads(unseal(self.secret_key, SEAL_PURPOSE, self._bound_to(update_id), sealed))
        try:
            update = Update.model_validate(raw, context={"bot": self.bot})
        except ValidationError as exc:
            # Its message would quote the update (a password, perhaps): only the count.
            raise MalformedUpdate(f"{exc.error_count()} errors") from None
        result = await self.dispatcher.feed_update(self.bot, update)
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(self.bot, result)

    async def _renew(self) -> None:
        async with self.uow_factory() as uow:
            await uow.inbox.updates.renew(list(self._tasks), self.owner, self.now() + self.lease)
            await uow.commit()

    async def _cleanup(self) -> None:
        async with self.uow_factory() as uow:
            deleted = await uow.inbox.updates.delete_done_before(
                self.bot_id, self.now() - KEEP_DONE
            )
            await uow.commit()
        if deleted:
            log.info("update inbox: %d handled update(s) older than a day deleted", deleted)

    async def _abandon(self) -> None:
        """Cancel the updates still being handled and free their rows for the next start."""
        tasks = dict(self._tasks)
        if not tasks:
            return
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        self._tasks.clear()
        self._busy_chats.clear()
        try:
            async with self.uow_factory() as uow:
                await uow.inbox.updates.release(list(tasks), self.owner)
                await uow.commit()
        except Exception as exc:
            log.error("update inbox: leases not released (%s); they expire", type(exc).__name__)
