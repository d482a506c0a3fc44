"""The durable inbox on the running bot (bot.inbox): each update handled once, in order.

The sandbox is detached, so what the person does waits in its getUpdates queue
as with Telegram; a test takes the updates with getUpdates — twice without
moving the offset, as Telegram delivers them again — and hands them to the
inbox, which handles them through the real dispatcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.inbox import UpdateInbox, inbox_for
from bot.runner import SECRET_HEADER, webhook_handler
from services.demo import PETROV_APPLICATION
from tests.support.application_flow import fill_form, signed_in, upload_documents
from tests.support.bot import ANNA_PHONE, PASSWORD, App
from tgsandbox import SandboxUser

WRONG = "Wrong-Passw0rd1"


@pytest.fixture(params=["app", "pg_app"], ids=["sqlite", "postgres"])
def any_app(request: pytest.FixtureRequest) -> App:
    """The bot on SQLite, then on PostgreSQL (the duplicate check is the database's)."""
    running: App = request.getfixturevalue(request.param)
    return running


def inbox_of(app: App, **kwargs: Any) -> UpdateInbox:
    assert app.runtime is not None and app.bot is not None
    if not kwargs:
        return inbox_for(app.runtime, app.bot)
    return UpdateInbox(
        app.runtime.uow_factory,
        app.runtime.dispatcher,
        app.bot,
        app.runtime.ctx.secret_key,
        **kwargs,
    )


async def take_updates(app: App) -> list[dict[str, Any]]:
    """What getUpdates gives now (nothing is acknowledged: asked again, it gives the same)."""
    batch: list[dict[str, Any]] = await app.sandbox.call("getUpdates", {"timeout": 0})
    return batch


async def handle_all(app: App, inbox: UpdateInbox) -> None:
    await inbox.run(until_idle=True)
    await app.settle()


async def at_password(app: App, user: SandboxUser) -> None:
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(ANNA_PHONE)
    assert "Введите пароль" in user.last.text


async def rows(app: App) -> list[Any]:
    assert app.runtime is not None and app.bot is not None
    async with app.runtime.uow_factory() as uow:
        return list(await uow.inbox.updates.all(app.bot.id))


async def test_a_wrong_password_delivered_twice_is_counted_once(any_app: App) -> None:
    app = any_app
    anna = app.user()
    await at_password(app, anna)
    app.sandbox.detach()
    inbox = inbox_of(app)

    await anna.send(WRONG)
    first = await take_updates(app)
    again = await take_updates(app)
    assert [u["update_id"] for u in again] == [u["update_id"] for u in first]
    assert await inbox.receive(first) == 1
    assert await inbox.receive(again) == 0
    await handle_all(app, inbox)

    assert "Осталось попыток: 2." in anna.last.text
    assert all(m.text != WRONG for m in anna.messages)
    # and the next wrong one is the second, not the third
    await anna.send("Wrong-Passw0rd2")
    await inbox.receive(await take_updates(app))
    await handle_all(app, inbox)
    assert "Осталось попыток: 1." in anna.last.text


async def test_a_doubled_send_press_asks_for_the_code_once_and_stays(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await upload_documents(petrov)
    app.sandbox.detach()
    inbox = inbox_of(app)
    sms_before = len(app.sms.sent)

    await petrov.press("Отправить")
    batch = await take_updates(app)
    await inbox.receive(batch)
    await inbox.receive(await take_updates(app))
    await handle_all(app, inbox)

    assert "SMS на номер" in petrov.last.text, petrov.last.text
    assert "Главное меню" not in petrov.last.text
    assert len(app.sms.sent) == sms_before + 1
    await petrov.send(app.last_sms_code())
    await inbox.receive(await take_updates(app))
    await handle_all(app, inbox)
    assert "Заявка принята" in petrov.last.text


async def test_messages_sent_quickly_are_answered_in_the_order_sent(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    app.sandbox.detach()
    inbox = inbox_of(app)

    await anna.send(ANNA_PHONE)
    await anna.send(PASSWORD)
    batch = await take_updates(app)
    assert len(batch) == 2
    await inbox.receive(batch)
    await handle_all(app, inbox)

    # the login was taken first, then the password: the phone is asked for next
    assert anna.current_reply_keyboard(), anna.messages
    assert all(m.text != PASSWORD for m in anna.messages)


async def test_the_stored_update_of_a_password_keeps_no_readable_password(app: App) -> None:
    anna = app.user()
    await at_password(app, anna)
    app.sandbox.detach()
    inbox = inbox_of(app)

    await anna.send(PASSWORD)
    await inbox.receive(await take_updates(app))
    (stored,) = await rows(app)
    assert stored.payload is not None and PASSWORD not in stored.payload
    assert str(anna.id) not in stored.payload  # sealed whole, not only the text
    await handle_all(app, inbox)

    (handled,) = await rows(app)
    assert handled.payload is None and handled.done_at is not None
    assert anna.current_reply_keyboard()


async def test_an_update_left_by_a_killed_process_is_answered_once_its_lease_runs_out(
    app: App,
) -> None:
    anna = app.user()
    await at_password(app, anna)
    app.sandbox.detach()
    dead = inbox_of(app, lease_seconds=30, owner="killed-process")
    await anna.send(PASSWORD)
    await dead.receive(await take_updates(app))
    (row,) = await rows(app)
    assert app.runtime is not None
    now = datetime.now(UTC)
    async with app.runtime.uow_factory() as uow:  # the killed process had taken it
        assert await uow.inbox.updates.claim(
            row.id, "killed-process", now, now + timedelta(seconds=30)
        )
        await uow.commit()

    restarted = inbox_of(app, lease_seconds=30, owner="restarted")
    await handle_all(app, restarted)
    assert not anna.current_reply_keyboard()  # another process holds it: not taken twice

    later = inbox_of(app, lease_seconds=30, owner="restarted", now=lambda: now + timedelta(31))
    await handle_all(app, later)
    assert anna.current_reply_keyboard(), anna.messages
    (done,) = await rows(app)
    assert done.done_at is not None and done.attempts == 2


async def test_handled_updates_are_forgotten_after_a_day(app: App) -> None:
    anna = app.user()
    app.sandbox.detach()
    inbox = inbox_of(app)
    await anna.send("/start")
    await inbox.receive(await take_updates(app))
    await handle_all(app, inbox)
    assert "Войти через Госуслуги" in anna.last.buttons
    assert len(await rows(app)) == 1

    tomorrow = inbox_of(app, now=lambda: datetime.now(UTC) + timedelta(hours=25))
    await anna.send("/menu")
    await tomorrow.receive(await take_updates(app))
    await handle_all(app, tomorrow)
    remaining = await rows(app)
    assert len(remaining) == 1 and remaining[0].done_at is not None


@pytest.fixture
async def webhook(app: App) -> AsyncIterator[tuple[str, UpdateInbox]]:
    inbox = inbox_of(app)
    server = web.Application()
    server.router.add_post("/hook", webhook_handler(inbox, "s3cret"))
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", inbox
    finally:
        await runner.cleanup()


def start_update(update_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Анна"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Анна"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_the_webhook_answers_200_only_once_the_update_is_stored(
    app: App, webhook: tuple[str, UpdateInbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = webhook
    headers = {SECRET_HEADER: "s3cret"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=start_update(10, 5001), headers={}) as refused:
            assert refused.status == 401
        assert await rows(app) == []

        async def database_down(self: UpdateInbox, updates: Any) -> int:
            raise ConnectionRefusedError("the database is down")

        monkeypatch.setattr(UpdateInbox, "receive", database_down)
        async with http.post(url, json=start_update(11, 5001), headers=headers) as failed:
            assert failed.status == 503  # Telegram sends it again later
        monkeypatch.undo()
        expected = [r for r in app.errors if "could not store update 11" in r.getMessage()]
        assert len(expected) == 1
        app.errors.remove(expected[0])

        async with http.post(url, json=start_update(11, 5001), headers=headers) as accepted:
            assert accepted.status == 200
            assert [r.update_id for r in await rows(app)] == [11]
        async with http.post(url, json=start_update(11, 5001), headers=headers) as again:
            assert again.status == 200
    assert [r.update_id for r in await rows(app)] == [11]


async def test_a_damaged_update_does_not_hold_up_the_persons_next_message(app: App) -> None:
    anna = app.user()
    app.sandbox.detach()
    inbox = inbox_of(app)
    damaged = {"update_id": 0, "message": {"chat": {"id": anna.id}, "text": PASSWORD}}
    await inbox.receive([damaged])
    await anna.send("/start")
    await inbox.receive(await take_updates(app))
    await handle_all(app, inbox)

    assert "Войти через Госуслуги" in anna.last.buttons
    (logged,) = [r for r in app.errors if "update 0 " in r.getMessage()]
    assert PASSWORD not in logged.getMessage() and logged.exc_info is None
    app.errors.remove(logged)
