"""Dialogs started within one second must not share an intent id."""

from __future__ import annotations

from aiogram_dialog.api.entities.stack import Stack, new_id

from tests.support.bot import App


async def test_intent_ids_started_in_one_second_are_unique(app: App) -> None:
    # the app is built, so the id source is installed
    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    assert max(len(i) for i in ids) <= 6


async def test_a_stack_of_sub_dialogs_keeps_every_context(app: App) -> None:
    stack = Stack()
    contexts = [stack.push(f"State:{n}", None) for n in range(50)]  # type: ignore[arg-type]
    assert len({c.id for c in contexts}) == 50
