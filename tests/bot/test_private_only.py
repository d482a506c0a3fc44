"""The bot works in private chats only: in a group it shows nothing personal.

The sandbox models private chats; a group, a supergroup and a channel are added
here by hand (a chat the bot may write to, and updates whose chat is of that type).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bot.private_only import PRIVATE_ONLY
from services.demo import PETROV_APPLICATION
from tests.support.application_flow import fill_form, signed_in
from tests.support.bot import App
from tgsandbox import Sandbox, SandboxUser
from tgsandbox.server import CallbackRecord, ChatState, UserRecord

GROUP = -1_001_234_567_890


class Group:
    """A chat of type `kind` with the bot in it, where `person` writes."""

    def __init__(self, sandbox: Sandbox, person: SandboxUser, kind: str = "supergroup") -> None:
        self.sandbox = sandbox
        self.person = person
        self.kind = kind
        self.chat = ChatState(user=UserRecord(id=GROUP, first_name="Семья"), started=True)
        sandbox.chats[GROUP] = self.chat
        self.next_id = 1000

    def _chat_json(self) -> dict[str, Any]:
        return {"id": GROUP, "type": self.kind, "title": "Семья"}

    def _message(self, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        return {
            "message_id": self.next_id,
            "from": {"id": self.person.id, "is_bot": False, "first_name": "Сергей"},
            "chat": self._chat_json(),
            "date": self.sandbox.now(),
            **fields,
        }

    async def send(self, text: str) -> None:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        await self.sandbox.emit_update({"message": self._message(text=text, entities=entities)})
        await self.sandbox.wait_idle(quiet=0.05)

    async def post_to_channel(self, text: str) -> None:
        post = self._message(text=text)
        post.pop("from")
        await self.sandbox.emit_update({"channel_post": post})
        await self.sandbox.wait_idle(quiet=0.05)

    async def someone_joins(self) -> None:
        joined = {"id": 777, "is_bot": False, "first_name": "Гость"}
        await self.sandbox.emit_update({"message": self._message(new_chat_members=[joined])})
        await self.sandbox.wait_idle(quiet=0.05)

    async def press(self, callback_data: str) -> CallbackRecord:
        """A button of a message the bot sent to the group, with `callback_data`."""
        query_id = f"group-{self.next_id}"
        record = CallbackRecord(query_id, self.person.id, 1, callback_data, self.sandbox.clock())
        self.sandbox.callbacks[query_id] = record
        await self.sandbox.emit_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {"id": self.person.id, "is_bot": False, "first_name": "Сергей"},
                    "message": self._message(text="Главное меню"),
                    "chat_instance": "group-instance",
                    "data": callback_data,
                }
            }
        )
        await self.sandbox.wait_idle(quiet=0.05)
        return record

    @property
    def bot_texts(self) -> list[str]:
        return [m.text or "" for m in self.chat.messages.values() if m.from_bot]


@contextmanager
def sql_statements(app: App) -> Iterator[list[str]]:
    assert app.runtime is not None
    engine = app.runtime.engine.sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_menu_and_the_application_in_a_group_show_only_the_line(app: App) -> None:
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION, stop="address")
    private_last = petrov.last
    group = Group(app.sandbox, petrov)

    with sql_statements(app) as statements:
        for text in ("/menu", "Заявление на ЭМК", "/start", "/logout", "156-236-488 77"):
            await group.send(text)

    assert group.bot_texts == [PRIVATE_ONLY] * 5
    shown = "\n".join(group.bot_texts)
    for value in ("Петров", "156-236-488 77", "45 05", "123456", "Тверская"):
        assert value not in shown
    # nothing was read or written: no session, no conversation state, no journal
    assert statements == []
    # the private conversation goes on where it was
    assert petrov.last.message_id == private_last.message_id
    assert petrov.last.text == private_last.text
    await petrov.send(PETROV_APPLICATION["address"])
    assert "Контактный телефон" in petrov.last.text


async def test_a_button_pressed_in_a_group_gets_the_line_and_starts_nothing(app: App) -> None:
    petrov = await signed_in(app)
    button = petrov.last.button("Заявление на ЭМК")
    group = Group(app.sandbox, petrov, kind="group")

    with sql_statements(app) as statements:
        record = await group.press(button["callback_data"])

    assert record.answered and record.text == PRIVATE_ONLY
    assert group.bot_texts == []
    assert statements == []
    # no draft was started by the group's button: the private menu is still the menu
    assert "Главное меню" in petrov.last.text


async def test_a_channel_post_gets_the_line(app: App) -> None:
    petrov = app.user(2002, "+79990000002", "Сергей")
    channel = Group(app.sandbox, petrov, kind="channel")
    await channel.post_to_channel("/start")
    assert channel.bot_texts == [PRIVATE_ONLY]


async def test_someone_joining_a_group_is_not_answered(app: App) -> None:
    petrov = app.user(2002, "+79990000002", "Сергей")
    group = Group(app.sandbox, petrov)
    await group.someone_joins()
    assert group.bot_texts == []


async def test_a_private_chat_is_served_as_before(app: App) -> None:
    anna = app.user()
    await anna.send("/start")
    assert PRIVATE_ONLY not in anna.bot_texts()
    assert "Войти через Госуслуги" in anna.last.buttons
