"""Per-update middleware: who is writing, resolved once, in a unit of work of its own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram_dialog.api.entities import DialogUpdate

from services.core.context import AppContext
from services.core.work import Work, in_unit
from services.identity.auth import AuthService

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SessionMiddleware(BaseMiddleware):
    """Resolves the person's session and hands the handler what it needs to work.

    The session bookkeeping (touching it, or ending an idle one) is its own short
    unit of work, committed before the handler runs. The handler gets no open
    transaction: each use case it runs opens and commits its own unit of work
    (``services.core.work``), so nothing is held while the bot talks to
    Telegram. Background dialog updates read the session without touching it,
    so a push does not keep an idle session alive.
    """

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["work"] = self.work
        data["ctx"] = self.ctx
        data["current_user"] = None
        data["session_expired"] = False
        user = data.get("event_from_user")
        if user is not None:
            touch = not isinstance(event, DialogUpdate)
            state = await in_unit(
                self.work,
                lambda uow: AuthService(uow, self.ctx).resolve_session(user.id, touch=touch),
            )
            data["current_user"] = state.user
            data["session_expired"] = state.expired
        return await handler(event, data)
