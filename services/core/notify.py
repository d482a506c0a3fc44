"""Queueing push notifications into the transactional outbox.

The row is written in the caller's unit of work, so a notification exists if
and only if the change it tells of was committed. The notifier worker sends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.core.context import AppContext
from storage.models import OutboxMessage
from storage.uow import UnitOfWork


class ButtonAction(StrEnum):
    """What a button under a push message does; `handlers/push.py` answers each one."""

    MENU = "menu"  # the main menu (or the sign-in)
    STATUS = "status"  # the status of the person's application for the ЭМК
    RESULT = "result"  # one lab result (arg: its id)
    VISIT = "visit"  # one booked visit in «Мои записи» (arg: its id)
    VISIT_CANCEL = "visit_cancel"  # «Отменить» a visit (arg: its id)
    VISIT_MOVE = "visit_move"  # «Перенести» a visit (arg: its id)
    REBOOK = "rebook"  # «Выбрать другое время» after a visit was cancelled (arg: its id)
    WAITLIST_OFFER = "offer"  # «Записаться» on a freed time held for the person (arg: offer id)
    SHARING_REQUEST = "share_ask"  # «Запросить доступ снова» to a relative's card (arg: grant id)
    SHARING_ALLOW = "share_allow"  # the patient's «Разрешить» on that request (arg: grant id)
    SHARING_DECLINE = "share_no"  # the patient's «Отклонить» on that request (arg: grant id)
    CHAT = "chat"  # the patient's thread with a doctor in «Мои вопросы» (arg: thread id)
    CHAT_DOCTOR = "chat_doc"  # the doctor's thread in «Вопросы пациентов» (arg: thread id)
    CHAT_CARD = "chat_card"  # a relative's thread on the patient's card (arg: patient_thread)


OPEN_MENU = ButtonAction.MENU
OPEN_STATUS = ButtonAction.STATUS

# An argument is a short token (an id, a number): Telegram gives a button's
# callback data 64 bytes, and the action and its prefix take their share.
ARG_MAX_LENGTH = 32
_ARG = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Button:
    """A button under a push message, as plain data.

    It is kept in the outbox as ``{"text": …, "action": …}`` (and ``"arg"`` when
    there is one); the notifier turns it into Telegram's callback data. Rows queued
    before hold ``{"text": …, "callback_data": "push:…"}``, which the notifier
    still reads.
    """

    text: str
    action: ButtonAction
    arg: str = ""

    def __post_init__(self) -> None:
        ButtonAction(self.action)  # a ValueError for an action nobody answers
        if len(self.arg) > ARG_MAX_LENGTH or not _ARG.fullmatch(self.arg):
            raise ValueError(f"a button argument is up to {ARG_MAX_LENGTH} of [A-Za-z0-9_-]")

    def to_data(self) -> dict[str, str]:
        data = {"text": self.text, "action": str(self.action)}
        if self.arg:
            data["arg"] = self.arg
        return data


async def to_chat(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    chat_id: int,
    text: str,
    kind: str,
    account_id: int | None = None,
    buttons: list[Button] | None = None,
    due_at: datetime | None = None,
    topic: str | None = None,
) -> None:
    """Queue one message; `due_at` (default now) delays it, `topic` lets it be withdrawn."""
    now = ctx.gateways.clock.now()
    await uow.core.outbox.add(
        OutboxMessage(
            chat_id=chat_id,
            account_id=account_id,
            text=text,
            kind=kind,
            buttons=[b.to_data() for b in buttons or []],
            status="pending",
            created_at=now,
            due_at=due_at or now,
            topic=topic,
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
    due_at: datetime | None = None,
    topic: str | None = None,
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
            due_at=due_at,
            topic=topic,
        )
        count += 1
    return count


async def withdraw(uow: UnitOfWork, topic: str) -> int:
    """Messages about `topic` that are not sent yet will not be (a visit cancelled)."""
    return await uow.core.outbox.withdraw(topic)


async def chats_of(uow: UnitOfWork, account_id: int) -> list[tuple[int, int]]:
    """(Telegram user id, chat id) of every chat bound to the account that takes messages."""
    return [
        (binding.telegram_user_id, binding.chat_id)
        for binding in await uow.identity.bindings.for_account(account_id)
        if binding.bot_blocked_at is None
    ]
