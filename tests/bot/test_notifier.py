"""The notifier worker against the Telegram sandbox and a real database.

Time is injected (a `FakeTime` that moves the wall clock, the monotonic clock and the
sandbox's clock together, and whose `sleep` returns at once) except where the rate
itself is the point: those tests run on real time and read the sandbox's request log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.types import CallbackQuery

from bot.workers.notifier import Notifier
from handlers.push import PushAction
from services.core import notify
from services.core.context import AppContext
from services.core.gateways import (
    Clock,
    ConsoleMail,
    ConsoleSms,
    FrozenClock,
    Gateways,
    SystemClock,
)
from services.core.hashing import PasswordHasher
from storage.db import create_engine, create_session_factory
from storage.models import Account, OutboxMessage, TelegramBinding
from storage.uow import UnitOfWorkFactory
from tgsandbox import ApiError, FloodLimits, Sandbox, SandboxUser

# Every text sent in these tests carries this word; no log line may.
MEDICAL = "гемоглобин"


def medical_text(n: int) -> str:
    return f"Готов результат анализа №{n}: {MEDICAL} 135 г/л."


class FakeTime:
    """Wall clock, monotonic clock and sleep moving together; sleep returns at once."""

    def __init__(self) -> None:
        self.clock = FrozenClock()
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.clock.advance(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def no_text_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="bot.workers.notifier")
    yield
    for record in caplog.records:
        if record.name.startswith("bot.workers"):
            shown = logging.Formatter().format(record)
            assert MEDICAL not in shown, f"message text leaked into a log line: {shown!r}"


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def make_ctx(clock: Clock) -> AppContext:
    return AppContext(
        gateways=Gateways(clock=clock, sms=ConsoleSms(), mail=ConsoleMail()),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )


async def queue(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    chat_id: int,
    text: str,
    buttons: list[notify.Button] | None = None,
) -> int:
    async with uow_factory() as uow:
        await notify.to_chat(
            uow, make_ctx(clock), chat_id=chat_id, text=text, kind="test", buttons=buttons
        )
        await uow.commit()
        rows = await uow.core.outbox.for_chat(chat_id)
        return rows[-1].id


async def row(uow_factory: UnitOfWorkFactory, row_id: int) -> OutboxMessage:
    async with uow_factory() as uow:
        found = await uow.core.outbox.get(row_id)
        assert found is not None
        return found


async def started_user(sandbox: Sandbox, user_id: int) -> SandboxUser:
    """A user who has pressed Start (the bot may write to them)."""
    user = sandbox.user(user_id=user_id, first_name="Анна")
    await user.send("/start")
    return user


def sent_texts(sandbox: Sandbox, chat_id: int | None = None) -> list[str]:
    return [r.params["text"] for r in sandbox.requests_for("sendMessage", chat_id=chat_id, ok=True)]


def notifier(
    uow_factory: UnitOfWorkFactory, sandbox: Sandbox, fake: FakeTime, **kwargs: Any
) -> Notifier:
    return Notifier(
        uow_factory,
        sandbox.create_bot(),
        clock=fake.clock,
        monotonic=fake.monotonic,
        sleep=fake.sleep,
        **kwargs,
    )


async def drain(n: Notifier, fake: FakeTime, rounds: int = 20, step: float = 0.5) -> None:
    """Run batches, moving fake time on between them."""
    for _ in range(rounds):
        await n.run_once()
        fake.advance(max(step, n.paused_for()))


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (real time) until `condition()` holds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the sandbox offers no event for this
            await asyncio.sleep(0.01)


async def run_until(n: Notifier, condition: Callable[[], bool]) -> None:
    """Run the notifier loop (real time) until `condition()` holds, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(n.run(stop, poll_seconds=0.02))
    try:
        await eventually(condition)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


# -- delivery ----------------------------------------------------------------------------


async def test_delivers_text_and_button(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 501)
    text = medical_text(1)
    row_id = await queue(
        uow_factory,
        fake.clock,
        anna.chat_id,
        text,
        [notify.Button("Открыть меню", notify.OPEN_MENU)],
    )
    n = notifier(uow_factory, sandbox, fake)

    assert await n.run_once() == 1

    message = anna.last
    assert message.text == text
    assert message.keyboard == [["Открыть меню"]]
    assert message.button("Открыть меню")["callback_data"] == "push:menu"
    stored = await row(uow_factory, row_id)
    assert stored.status == "sent"
    assert stored.telegram_message_id == message.message_id
    assert stored.sent_at == fake.clock.now()
    assert stored.attempts == 0 and stored.last_error is None and stored.claimed_until is None
    assert await n.run_once() == 0  # sent once
    assert sandbox.count("sendMessage") == 1

    # Pressing the button sends its callback to the bot.
    pressed: list[tuple[int, str | None, int]] = []
    router = Router()

    @router.callback_query(PushAction.filter(F.action == notify.ButtonAction.MENU))
    async def on_menu(callback: CallbackQuery) -> None:
        assert callback.message is not None
        pressed.append((callback.from_user.id, callback.data, callback.message.message_id))
        await callback.answer("Меню")

    dp = Dispatcher()
    dp.include_router(router)
    bot = sandbox.create_bot()
    sandbox.attach(dp, bot)
    await anna.press("Открыть меню")
    assert pressed == [(anna.id, "push:menu", message.message_id)]
    assert anna.callback_answers == ["Меню"]


async def test_message_without_buttons(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 502)
    await queue(uow_factory, fake.clock, anna.chat_id, medical_text(2))
    await notifier(uow_factory, sandbox, fake).run_once()
    assert anna.last.text == medical_text(2)
    assert anna.last.keyboard == []


async def test_a_notifier_for_some_chats_leaves_the_others_rows_to_theirs(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    """The console demo: two terminals on one database, each sends only its own person's."""
    anna_side, petrov_side = Sandbox(clock=fake.monotonic), Sandbox(clock=fake.monotonic)
    anna = await started_user(anna_side, 511)
    petrov = await started_user(petrov_side, 512)
    for_petrov = await queue(uow_factory, fake.clock, petrov.chat_id, medical_text(12))
    for_anna = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(11))

    assert await notifier(uow_factory, anna_side, fake, chats={anna.chat_id}).run_once() == 1

    assert anna.last.text == medical_text(11)
    assert (await row(uow_factory, for_anna)).status == "sent"
    waiting = await row(uow_factory, for_petrov)
    assert waiting.status == "pending" and waiting.claimed_until is None
    assert anna_side.count("sendMessage") == 1  # Петров's was never tried here

    assert await notifier(uow_factory, petrov_side, fake, chats={petrov.chat_id}).run_once() == 1
    assert petrov.last.text == medical_text(12)
    assert (await row(uow_factory, for_petrov)).status == "sent"


async def test_retry_after_is_honoured(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    # Telegram allows one message a second here while the notifier would send 25.
    sandbox = Sandbox(
        clock=fake.monotonic,
        flood=FloodLimits(global_per_second=1.0, global_burst=1, per_chat_per_second=None),
    )
    users = [await started_user(sandbox, 600 + i) for i in range(3)]
    ids = [
        await queue(uow_factory, fake.clock, u.chat_id, medical_text(i))
        for i, u in enumerate(users)
    ]
    n = notifier(uow_factory, sandbox, fake)

    start = fake.clock.now()
    await n.run_once()
    first, second = await row(uow_factory, ids[0]), await row(uow_factory, ids[1])
    assert first.status == "sent"
    # The 429 for the second row: back to pending, due after retry_after, not an attempt.
    assert second.status == "pending"
    assert second.attempts == 0
    assert second.due_at >= start + timedelta(seconds=1)
    assert second.last_error is not None and second.last_error.startswith("TelegramRetryAfter")
    assert n.paused_for() >= 0.9
    assert await n.run_once() == 0  # paused: nothing is even claimed

    await drain(n, fake)
    for row_id in ids:
        stored = await row(uow_factory, row_id)
        assert stored.status == "sent" and stored.attempts == 0
    assert [u.bot_texts() for u in users] == [[medical_text(i)] for i in range(3)]

    # After every 429 the bot sent nothing until retry_after had passed.
    log = sandbox.requests_for("sendMessage")
    refusals = [r for r in log if r.error and r.error.startswith("Too Many Requests")]
    assert refusals
    for index, refusal in enumerate(log):
        if refusal in refusals:
            retry_after = int(refusal.error.rsplit(" ", 1)[1])  # type: ignore[union-attr]
            assert all(r.at >= refusal.at + retry_after - 1e-6 for r in log[index + 1 :])


async def test_blocked_user(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 701)
    boris = await started_user(sandbox, 702)
    async with uow_factory() as uow:
        for user, phone in ((anna, "+79990000701"), (boris, "+79990000702")):
            account = await uow.identity.accounts.add(
                Account(
                    phone=phone,
                    last_name="Иванова",
                    first_name="Анна",
                    password_hash="x",
                    failed_password_attempts=0,
                    created_at=fake.clock.now(),
                )
            )
            await uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=user.id,
                    chat_id=user.chat_id,
                    account_id=account.id,
                    created_at=fake.clock.now(),
                )
            )
        await uow.commit()
    anna_rows = [
        await queue(uow_factory, fake.clock, anna.chat_id, medical_text(i)) for i in range(3)
    ]
    boris_rows = [
        await queue(uow_factory, fake.clock, boris.chat_id, medical_text(10 + i)) for i in range(2)
    ]
    await anna.block_bot()
    n = notifier(uow_factory, sandbox, fake)

    await drain(n, fake)

    for row_id in anna_rows:
        stored = await row(uow_factory, row_id)
        assert stored.status == "blocked"
        assert stored.last_error is not None and "blocked by the user" in stored.last_error
    assert sandbox.count("sendMessage", chat_id=anna.chat_id) == 1  # the others never tried
    for row_id in boris_rows:
        assert (await row(uow_factory, row_id)).status == "sent"
    assert boris.bot_texts() == [medical_text(10), medical_text(11)]
    async with uow_factory() as uow:
        (anna_binding,) = await uow.identity.bindings.by_chat(anna.chat_id)
        (boris_binding,) = await uow.identity.bindings.by_chat(boris.chat_id)
    assert anna_binding.bot_blocked_at is not None
    assert boris_binding.bot_blocked_at is None


async def test_chat_not_found_fails_at_once(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    row_id = await queue(uow_factory, fake.clock, 999_999, medical_text(1))
    n = notifier(uow_factory, sandbox, fake)
    await drain(n, fake, rounds=3)
    stored = await row(uow_factory, row_id)
    assert stored.status == "failed"
    assert stored.last_error == "TelegramBadRequest: Bad Request: chat not found"
    assert sandbox.count("sendMessage") == 1


# -- transient errors -----------------------------------------------------------------------


async def test_network_errors_are_retried_with_backoff(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 801)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    sandbox.fail_next(2, chat_id=anna.chat_id)
    n = notifier(uow_factory, sandbox, fake, jitter=0.1)

    await n.run_once()
    stored = await row(uow_factory, row_id)
    assert stored.status == "pending" and stored.attempts == 1
    assert stored.last_error is not None
    assert stored.last_error.startswith("delivery unknown: TelegramNetworkError")
    assert (stored.due_at - fake.clock.now()).total_seconds() == pytest.approx(2.1, abs=0.11)
    await drain(n, fake, rounds=30, step=0.25)

    stored = await row(uow_factory, row_id)
    assert stored.status == "sent" and stored.attempts == 2
    assert anna.bot_texts() == [medical_text(1)]
    times = [r.at for r in sandbox.requests_for("sendMessage")]
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 2.0 <= gaps[0] <= 2.2 + 0.25 + 1e-6
    assert 4.0 <= gaps[1] <= 4.4 + 0.25 + 1e-6


async def test_server_errors_are_retried(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 802)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    real_call = sandbox.call
    failures = iter([ApiError(502, "Bad Gateway")])

    async def flaky_call(method: str, *args: Any, **kwargs: Any) -> Any:
        if method.lower() == "sendmessage":
            failure = next(failures, None)
            if failure is not None:
                raise failure
        return await real_call(method, *args, **kwargs)

    sandbox.call = flaky_call  # type: ignore[method-assign]
    n = notifier(uow_factory, sandbox, fake)
    await n.run_once()
    stored = await row(uow_factory, row_id)
    assert stored.status == "pending" and stored.attempts == 1
    assert stored.last_error == "delivery unknown: TelegramServerError: Bad Gateway"
    await drain(n, fake, rounds=10)
    assert (await row(uow_factory, row_id)).status == "sent"
    assert anna.bot_texts() == [medical_text(1)]  # the 5xx came before Telegram sent it


async def test_a_5xx_after_telegram_delivered_is_sent_again_and_counted_as_a_possible_duplicate(
    uow_factory: UnitOfWorkFactory, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway's 5xx after the Bot API did send: Telegram cannot tell us, so it is counted."""
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 805)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    real_call = sandbox.call
    failures = iter([ApiError(502, "Bad Gateway")])

    async def delivered_then_502(method: str, *args: Any, **kwargs: Any) -> Any:
        result = await real_call(method, *args, **kwargs)
        if method.lower() == "sendmessage":
            failure = next(failures, None)
            if failure is not None:
                raise failure
        return result

    sandbox.call = delivered_then_502  # type: ignore[method-assign]
    n = notifier(uow_factory, sandbox, fake)
    await drain(n, fake, rounds=10)

    stored = await row(uow_factory, row_id)
    assert stored.status == "sent" and stored.attempts == 1
    assert stored.last_error == "possible duplicate: TelegramServerError: Bad Gateway"
    assert anna.bot_texts() == [medical_text(1), medical_text(1)]  # the one allowed duplicate
    assert n.possible_duplicates == 1
    assert any(
        f"notification {row_id} " in r.getMessage() and "possible duplicate" in r.getMessage()
        for r in caplog.records
    )


async def test_refusals_are_never_counted_as_possible_duplicates(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    """400 and 429 say Telegram did not send it: no duplicate is possible, none is counted."""
    sandbox = Sandbox(
        clock=fake.monotonic,
        flood=FloodLimits(global_per_second=1.0, global_burst=1, per_chat_per_second=None),
    )
    users = [await started_user(sandbox, 620 + i) for i in range(3)]
    ids = [
        await queue(uow_factory, fake.clock, u.chat_id, medical_text(i))
        for i, u in enumerate(users)
    ]
    missing = await queue(uow_factory, fake.clock, 999_998, medical_text(9))
    n = notifier(uow_factory, sandbox, fake)
    await drain(n, fake)
    for row_id in ids:
        stored = await row(uow_factory, row_id)
        assert stored.status == "sent" and stored.last_error is None
    assert (await row(uow_factory, missing)).status == "failed"
    assert n.possible_duplicates == 0
    assert [u.bot_texts() for u in users] == [[medical_text(i)] for i in range(3)]


async def test_network_errors_exhausted_fail_the_row(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 803)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    sandbox.fail_next(100, chat_id=anna.chat_id)
    n = notifier(uow_factory, sandbox, fake, max_attempts=3)

    await drain(n, fake, rounds=40)

    stored = await row(uow_factory, row_id)
    assert stored.status == "failed"
    assert stored.attempts == 3
    assert stored.last_error == (
        "delivery unknown: TelegramNetworkError: ServerDisconnectedError: Server disconnected"
    )
    assert sandbox.count("sendMessage") == 3
    assert anna.bot_texts() == []


async def test_a_lost_response_is_sent_again_and_counted_as_a_possible_duplicate(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    """A network error after Telegram did send: delivery is unknown, the row is sent again."""
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 804)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    sandbox.fail_next(1, chat_id=anna.chat_id, after_execution=True)
    n = notifier(uow_factory, sandbox, fake)
    await drain(n, fake, rounds=10)
    stored = await row(uow_factory, row_id)
    assert stored.status == "sent"
    assert stored.last_error is not None
    assert stored.last_error.startswith("possible duplicate: TelegramNetworkError")
    assert anna.bot_texts() == [medical_text(1), medical_text(1)]
    assert n.possible_duplicates == 1


# -- restarts and leases -------------------------------------------------------------------


async def test_restart_delivers_every_row_and_a_row_left_in_sending_as_a_possible_duplicate(
    uow_factory: UnitOfWorkFactory, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    users = [await started_user(sandbox, 900 + i) for i in range(3)]
    never_claimed = await queue(uow_factory, fake.clock, users[0].chat_id, medical_text(0))
    claimed = await queue(uow_factory, fake.clock, users[1].chat_id, medical_text(1))
    mid_send = await queue(uow_factory, fake.clock, users[2].chat_id, medical_text(2))
    # A worker claimed the rows, gave one back, marked one `sending` and died there.
    lease = timedelta(seconds=120)
    now = fake.clock.now()
    async with uow_factory() as uow:
        taken = await uow.core.outbox.claim_due(now, now + lease, 10)
        await uow.commit()
    assert {r.id for r in taken} == {never_claimed, claimed, mid_send}
    async with uow_factory() as uow:
        await uow.core.outbox.release([never_claimed], claimed_until=now + lease, due_at=now)
        assert await uow.core.outbox.start_sending(
            mid_send, claimed_until=now + lease, lease_until=now + lease
        )
        await uow.commit()

    # The new process delivers what nobody holds, and waits for the dead one's leases.
    n = notifier(uow_factory, sandbox, fake, lease_seconds=120)
    await n.run_once()
    assert (await row(uow_factory, never_claimed)).status == "sent"
    assert (await row(uow_factory, claimed)).status == "pending"
    assert (await row(uow_factory, mid_send)).status == "sending"

    fake.advance(121)
    await drain(n, fake, rounds=3)
    assert (await row(uow_factory, claimed)).status == "sent"
    # The row a dead worker left in sending is not lost: sent again, marked and counted.
    again = await row(uow_factory, mid_send)
    assert again.status == "sent" and again.attempts == 1
    assert again.telegram_message_id is not None and again.sent_at is not None
    assert again.last_error == "possible duplicate: lease expired while sending"
    assert sorted(sent_texts(sandbox)) == [medical_text(i) for i in range(3)]
    assert users[2].bot_texts() == [medical_text(2)]
    assert n.possible_duplicates == 1
    assert any(
        f"notification {mid_send}:" in r.getMessage() and "possible duplicate" in r.getMessage()
        for r in caplog.records
    )


async def test_a_claim_taken_over_is_not_sent_twice(
    uow_factory: UnitOfWorkFactory, fake: FakeTime
) -> None:
    """A worker whose claim lapsed and was taken by another sends nothing for that row."""
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 950)
    row_id = await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    now = fake.clock.now()
    async with uow_factory() as uow:
        (stale,) = await uow.core.outbox.claim_due(now, now + timedelta(seconds=5), 10)
        await uow.commit()
    fake.advance(6)
    n = notifier(uow_factory, sandbox, fake)
    await n.run_once()  # takes the lapsed claim over and sends
    async with uow_factory() as uow:
        # The first worker wakes up and tries to send on its old claim: refused.
        assert not await uow.core.outbox.start_sending(
            row_id, claimed_until=stale.claimed_until, lease_until=fake.clock.now()
        )
        await uow.commit()
    assert (await row(uow_factory, row_id)).status == "sent"
    assert anna.bot_texts() == [medical_text(1)]


async def test_run_survives_errors(uow_factory: UnitOfWorkFactory, fake: FakeTime) -> None:
    sandbox = Sandbox(clock=fake.monotonic)
    anna = await started_user(sandbox, 960)
    await queue(uow_factory, fake.clock, anna.chat_id, medical_text(1))
    n = notifier(uow_factory, sandbox, fake)
    real_run_once = n.run_once
    calls = 0

    async def failing_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database is down")
        return await real_run_once()

    n.run_once = failing_once  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(n.run(stop, poll_seconds=0.01))
    await eventually(lambda: bool(anna.bot_texts()))
    stop.set()
    await asyncio.wait_for(task, 5)
    assert anna.bot_texts() == [medical_text(1)]
    assert calls >= 2


# -- rates (real time) ----------------------------------------------------------------------


async def test_total_rate_is_held(sqlite_uow_factory: UnitOfWorkFactory) -> None:
    # The sandbox would answer 429 to anything faster than 6 a second.
    sandbox = Sandbox(
        flood=FloodLimits(
            global_per_second=6.0, global_burst=1, per_chat_per_second=1.0, per_chat_burst=1
        )
    )
    clock = SystemClock()
    users = [await started_user(sandbox, 1000 + i) for i in range(15)]
    for i, user in enumerate(users):
        await queue(sqlite_uow_factory, clock, user.chat_id, medical_text(i))
    n = Notifier(sqlite_uow_factory, sandbox.create_bot(), rate_per_second=5.0)

    await run_until(n, lambda: sandbox.count("sendMessage", ok=True) == 15)

    log = sandbox.requests_for("sendMessage")
    assert all(r.ok for r in log), "the sandbox's flood limit was hit"
    times = [r.at for r in log]
    assert times[-1] - times[0] >= 2.8 - 0.02
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # evenly spaced: a send that went out late is not made up for by a burst
    assert min(gaps) >= 0.2 / 2
    for t in times:  # any one-second window: at most 5 (+1 on its closing edge)
        assert sum(1 for u in times if t <= u < t + 1.0) <= 5 + 1
    assert sorted(sent_texts(sandbox)) == sorted(medical_text(i) for i in range(15))


async def test_per_chat_rate_is_held_without_blocking_other_chats(
    sqlite_uow_factory: UnitOfWorkFactory,
) -> None:
    sandbox = Sandbox(
        flood=FloodLimits(global_per_second=None, per_chat_per_second=1.05, per_chat_burst=1)
    )
    clock = SystemClock()
    anna = await started_user(sandbox, 1101)
    others = [await started_user(sandbox, 1200 + i) for i in range(4)]
    for i in range(3):
        await queue(sqlite_uow_factory, clock, anna.chat_id, medical_text(i))
    for i, user in enumerate(others):
        await queue(sqlite_uow_factory, clock, user.chat_id, medical_text(10 + i))
    n = Notifier(sqlite_uow_factory, sandbox.create_bot(), rate_per_second=50.0)

    start = time.monotonic()
    await run_until(n, lambda: sandbox.count("sendMessage", ok=True) == 7)

    log = sandbox.requests_for("sendMessage")
    assert all(r.ok for r in log), "the sandbox's flood limit was hit"
    anna_times = [r.at for r in log if r.chat_id == anna.chat_id]
    assert len(anna_times) == 3
    assert all(b - a >= 1.0 - 0.01 for a, b in itertools.pairwise(anna_times))
    assert anna.bot_texts() == [medical_text(i) for i in range(3)]  # in order
    # The other chats did not wait behind Anna's queue.
    other_times = [r.at for r in log if r.chat_id != anna.chat_id]
    assert max(other_times) - start < 0.8


# -- two workers (PostgreSQL) -------------------------------------------------------------------


async def test_two_notifiers_deliver_each_row_once(pg_url: str) -> None:
    sandbox = Sandbox()
    clock = SystemClock()
    users = [await started_user(sandbox, 2000 + i) for i in range(30)]
    engines = [create_engine(pg_url) for _ in range(2)]
    factories = [UnitOfWorkFactory(create_session_factory(e)) for e in engines]
    try:
        for i, user in enumerate(users):
            await queue(factories[0], clock, user.chat_id, medical_text(i))
        # Short leases and batches larger than one lease's worth of sending: claims lapse
        # while rows wait, the other worker takes them over, and the compare-and-set on the
        # claim must still keep every row to one send.
        workers = [
            Notifier(
                f,
                sandbox.create_bot(),
                rate_per_second=12.0,
                batch_size=20,
                lease_seconds=1.2,
                send_timeout=1,
            )
            for f in factories
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop, poll_seconds=0.02)) for w in workers]
        await eventually(lambda: sandbox.count("sendMessage", ok=True) >= 30)
        await asyncio.sleep(0.2)  # time for a stray second send, were there one
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

        texts = sent_texts(sandbox)
        assert sorted(texts) == sorted(medical_text(i) for i in range(30))
        assert sandbox.count("sendMessage") == 30  # no request beyond one per row
        async with factories[0]() as uow:
            assert await uow.core.outbox.stats() == {"sent": 30}
    finally:
        for engine in engines:
            await engine.dispose()


def test_backoff_doubles_and_is_capped() -> None:
    n = Notifier(None, None, backoff_base=2.0, backoff_cap=30.0, jitter=0.0)  # type: ignore[arg-type]
    assert [n.backoff(a) for a in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    jittered = Notifier(None, None, jitter=0.1)  # type: ignore[arg-type]
    assert all(2.0 <= jittered.backoff(1) <= 2.2 for _ in range(50))
