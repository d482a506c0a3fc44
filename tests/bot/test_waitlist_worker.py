"""The waitlist worker: an expired offer goes to the next person; an outage does not kill it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.workers.booking import WaitlistWorker
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory
from tests.support.booking import MONDAY, BookingWorld, make_world, msk


async def _offer_to_first_of_two(world: BookingWorld) -> tuple[int, int]:
    """09:00 is freed with two people waiting: the first gets the offer. Their account ids."""
    booked_by, first, second = world.people[:3]
    visit_id = await world.book(booked_by, world.therapist, msk(MONDAY, 9))
    for person in (first, second):
        await world.booking().run(
            lambda b, p=person: b.join_waitlist(p, "therapist", world.therapist, MONDAY, MONDAY)
        )
    await world.booking().run(lambda b: b.cancel(booked_by, visit_id))
    offers = [r for r in await world.outbox(first.account_id) if r.kind == "waitlist_offer"]
    assert len(offers) == 1
    assert not [r for r in await world.outbox(second.account_id) if r.kind == "waitlist_offer"]
    return first.account_id, second.account_id


def _worker(world: BookingWorld, factory: UnitOfWorkFactory | None = None) -> WaitlistWorker:
    return WaitlistWorker(
        factory or world.work, world.ctx, poll_seconds=0.01, outage_backoff_max=0.05
    )


async def test_an_expired_offer_is_handed_to_the_next_person(
    uow_factory: UnitOfWorkFactory,
) -> None:
    world = await make_world(uow_factory)
    first, second = await _offer_to_first_of_two(world)
    worker = _worker(world)
    # Within the hold nothing moves.
    world.clock.advance(minutes=14)
    assert await worker.run_once() == 0
    assert not [r for r in await world.outbox(second) if r.kind == "waitlist_offer"]

    world.clock.advance(minutes=2)
    assert await worker.run_once() == 1
    offers = [r for r in await world.outbox(second) if r.kind == "waitlist_offer"]
    assert len(offers) == 1
    assert offers[0].status == "pending"
    assert "30 ноября 2026 (пн) в 09:00" in offers[0].text
    # The first person's offer, if not sent yet, is withdrawn; the next tick has nothing to do.
    (old,) = [r for r in await world.outbox(first) if r.kind == "waitlist_offer"]
    assert old.status == "withdrawn"
    assert await worker.run_once() == 0


async def test_the_loop_hands_the_offer_on_by_itself(sqlite_uow_factory: UnitOfWorkFactory) -> None:
    world = await make_world(sqlite_uow_factory)
    _, second = await _offer_to_first_of_two(world)
    world.clock.advance(minutes=16)
    stop = asyncio.Event()
    task = asyncio.create_task(_worker(world).run(stop))
    try:
        for _ in range(200):
            if [r for r in await world.outbox(second) if r.kind == "waitlist_offer"]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the worker did not hand the offer on")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_database_outage_is_logged_once_and_survived(
    sqlite_uow_factory: UnitOfWorkFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(sqlite_uow_factory)
    _, second = await _offer_to_first_of_two(world)
    world.clock.advance(minutes=16)
    # The database goes away: its path is now a directory, which cannot be opened.
    gone = tmp_path / "gone"
    gone.mkdir()
    broken_engine = create_engine(f"sqlite+aiosqlite:///{gone}")
    factory = UnitOfWorkFactory(create_session_factory(broken_engine))
    healthy = world.work.session_factory
    worker = _worker(world, factory)
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="bot.workers.booking")
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(200):
            if worker.outage.failures >= 3:
                break
            await asyncio.sleep(0.01)
        assert worker.outage.failures >= 3
        assert not task.done()
        # Back up: the same worker hands the offer on.
        factory.session_factory = healthy
        for _ in range(300):
            if not worker.outage.active and [
                r for r in await world.outbox(second) if r.kind == "waitlist_offer"
            ]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the worker did not recover")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await broken_engine.dispose()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "storage unavailable" in errors[0].getMessage()
    assert worker.outage.outages == 1
    assert any("storage back" in r.getMessage() for r in caplog.records)


async def test_start_workers_starts_it(sqlite_url: str, tmp_path: Path) -> None:
    from aiogram import Bot

    from bot.app import build_runtime
    from bot.config import Settings
    from bot.workers import start_workers

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        redis_url=None,
        bot_token=None,
        worker_poll_seconds=0.05,
    )
    runtime = build_runtime(settings)
    bot = Bot("123:abc")  # nothing is due: no call reaches Telegram
    stop = asyncio.Event()
    try:
        tasks = start_workers(runtime, bot, stop)
        assert "waitlist" in {t.get_name() for t in tasks}
        await asyncio.sleep(0.2)
        assert not any(t.done() for t in tasks)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    finally:
        stop.set()
        await bot.session.close()
        await runtime.close()
