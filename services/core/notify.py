"""Queueing push notifications into the transactional outbox.

The row is written in the caller's unit of work, so a notification exists if
and only if the change it tells of was committed. The notifier worker sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.context import AppContext
from storage.models import OutboxMessage
from storage.uow import UnitOfWork

# Callback data of notification buttons; plain handlers in `handlers/` answer them.
OPEN_MENU = "push:menu"
# Opens the status of the person's application for the ЭМК.
OPEN_STATUS = "push:status"


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str


async def to_chat(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    chat_id: int,
    text: str,
    kind: str,
    account_id: int | None = None,
    buttons: list[Button] | None = None,
) -> None:
    now = ctx.gateways.clock.now()
    await uow.core.outbox.add(
        OutboxMessage(
            chat_id=chat_id,
            account_id=account_id,
            text=text,
            kind=kind,
            buttons=[{"text": b.text, "callback_data": b.callback_data} for b in buttons or []],
            status="pending",
            created_at=now,
            due_at=now,
            attempts=0,
        )
    )


async def to_account(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    account_id: int,
    text: str,
    kind: str,
    buttons: list[Button] | None = None,
    except_chat_id: int | None = None,
) -> int:
    """Queue the message for every chat bound to the account; returns how many."""
    count = 0
    for binding in await uow.identity.bindings.for_account(account_id):
        if binding.chat_id == except_chat_id or binding.bot_blocked_at is not None:
            continue
        await to_chat(
            uow,
            ctx,
            chat_id=binding.chat_id,
            text=text,
            kind=kind,
            account_id=account_id,
            buttons=buttons,
        )
        count += 1
    return count


async def chats_of(uow: UnitOfWork, account_id: int) -> list[tuple[int, int]]:
    """(Telegram user id, chat id) of every chat bound to the account that takes messages."""
    return [
        (binding.telegram_user_id, binding.chat_id)
        for binding in await uow.identity.bindings.for_account(account_id)
        if binding.bot_blocked_at is None
    ]
