"""The waitlist worker: hands expired offers on and ends entries whose range is over.

Every ``poll_seconds`` (WORKER_POLL_SECONDS) one unit of work runs
``services.booking.waitlist.tick``: an offer held for someone that was not
taken within its hold goes to the next person waiting (their push is queued in
the outbox, which the notifier sends), and entries whose date range has passed
end. Several workers (in one process or many, on PostgreSQL) share the work:
``tick`` locks the offers it expires with ``SKIP LOCKED``.

When the database is down the loop backs off (doubling, up to
``outage_backoff_max`` seconds) and logs one line when the outage starts and one
when it ends (``bot.outage.Outage``); any other error is logged by its type and
the loop goes on. Logs name no person: counts and error types only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.outage import Outage, is_outage
from services.booking import waitlist
from services.core.context import AppContext
from storage.uow import UnitOfWorkFactory

__all__ = ["WaitlistWorker"]

log = logging.getLogger(__name__)


class WaitlistWorker:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ctx: AppContext,
        *,
        poll_seconds: float = 1.0,
        outage_backoff_max: float = 30.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.outage = Outage("waitlist", cap=outage_backoff_max, logger=log)

    async def run_once(self) -> int:
        """One tick, committed: how many expired offers were handed on."""
        async with self.uow_factory() as uow:
            expired = await waitlist.tick(uow, self.ctx)
            await uow.commit()
        if expired:
            log.info("waitlist: %d expired offer(s) handed on", expired)
        return expired

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; never dies on an error."""
        log.info("waitlist worker started")
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                if is_outage(exc):
                    self.outage.failed(exc)
                else:
                    log.error("waitlist: tick failed: %s", type(exc).__name__)
            else:
                self.outage.recovered()
            delay = max(self.poll_seconds, self.outage.delay())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        log.info("waitlist worker stopped")
