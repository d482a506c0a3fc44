"""The processor worker: takes submitted applications for the ЭМК and decides them.

One application at a time per processor; several processors (in one process or
many, on PostgreSQL) share the queue safely:

1. ``claim`` — a lease on the oldest waiting application (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, and a compare-and-set), committed;
2. ``start`` — «Заявка принята» → «В работе», committed (with its push);
3. wait until it has been in work ``delay_seconds`` (PROCESSING_DELAY_SECONDS);
4. ``finish`` — read the applicant, ask the registry with no transaction open,
   then the checks and the decision, committed (with its push).

A processor that dies between the steps leaves the lease to run out
(``lease_seconds``, by default the delay plus a minute); then any processor
claims the application again and carries on where it stopped. Each transition
is guarded by the current status inside its transaction, so none happens
twice. A processor told to stop while waiting gives its claim back at once.

After each committed transition ``on_change(account_id)`` is awaited (the bot
refreshes an open status window with it); its failure is logged, not fatal.

When the database is down the loop backs off (doubling, up to
``outage_backoff_max`` seconds) and logs one line when the outage starts and one
when it ends (``bot.outage.Outage``).

Logs name applications by id and errors by type only: messages of database
errors may carry the parameters, which are personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.outage import Outage, is_outage
from services.core.context import AppContext
from services.core.gateways import LocalRegistry, Registry
from services.enrolment.processing import ProcessingService
from storage.uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["Processor"]

log = logging.getLogger(__name__)

OnChange = Callable[[int], Awaitable[None]]


class Processor:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ctx: AppContext,
        *,
        delay_seconds: float,
        poll_seconds: float = 1.0,
        on_change: OnChange | None = None,
        registry: Registry | None = None,
        lease_seconds: float | None = None,
        outage_backoff_max: float = 30.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.ctx = ctx
        self.delay_seconds = max(0.0, delay_seconds)
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.registry = registry or ctx.gateways.registry or LocalRegistry(uow_factory)
        self.outage = Outage("processor", cap=outage_backoff_max, logger=log)
        self.lease = timedelta(
            seconds=lease_seconds if lease_seconds is not None else self.delay_seconds + 60
        )

    def _service(self, uow: UnitOfWork) -> ProcessingService:
        return ProcessingService(uow, self.ctx, self.registry)

    async def _changed(self, account_id: int) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change(account_id)
        except Exception as exc:
            log.warning(
                "processor: on_change for account %s failed: %s", account_id, type(exc).__name__
            )

    async def claim(self) -> int | None:
        """Lease the next application (committed); its id or None."""
        async with self.uow_factory() as uow:
            application_id = await self._service(uow).claim(
                self.ctx.gateways.clock.now(), self.lease
            )
            await uow.commit()
        return application_id

    async def process(self, application_id: int, stop: asyncio.Event | None = None) -> None:
        """Carry a claimed application through «В работе» to its decision."""
        async with self.uow_factory() as uow:
            started = await self._service(uow).start(application_id)
            await uow.commit()
        if started is None:
            return
        if started.changed:
            log.info("processor: application %s in work", application_id)
            await self._changed(started.account_id)

        elapsed = (self.ctx.gateways.clock.now() - started.started_at).total_seconds()
        remaining = self.delay_seconds - elapsed
        if remaining > 0:
            if stop is None:
                await asyncio.sleep(remaining)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), remaining)
                if stop.is_set():
                    async with self.uow_factory() as uow:
                        await self._service(uow).release(application_id)
                        await uow.commit()
                    log.info("processor: stopping; application %s released", application_id)
                    return

        await self.finish(application_id)

    async def finish(self, application_id: int) -> None:
        """Decide an application in work: read it, ask the registry, commit the decision.

        The registry is asked between two units of work, with no transaction
        open (see services.enrolment.processing).
        """
        async with self.uow_factory() as uow:
            service = self._service(uow)
            applicant = await service.applicant(application_id)
        if applicant is None:
            return
        answer = await service.ask_registry(applicant)
        async with self.uow_factory() as uow:
            finished = await self._service(uow).finish(application_id, answer)
            await uow.commit()
        if finished is not None:
            log.info("processor: application %s → %s", application_id, finished.status)
            await self._changed(finished.account_id)

    async def run_once(self, stop: asyncio.Event | None = None) -> bool:
        """Claim and process one application; False when none was waiting."""
        application_id = await self.claim()
        if application_id is None:
            return False
        await self.process(application_id, stop)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set; idle `poll_seconds` when the queue is empty."""
        log.info("processor started")
        while not stop.is_set():
            try:
                worked = await self.run_once(stop)
            except Exception as exc:
                # The lease runs out and the application is processed again.
                if is_outage(exc):
                    self.outage.failed(exc)
                else:
                    log.error("processor: job failed: %s", type(exc).__name__)
                worked = False
            else:
                self.outage.recovered()
            if not worked and not stop.is_set():
                delay = max(self.poll_seconds, self.outage.delay())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        log.info("processor stopped")
