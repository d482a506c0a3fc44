"""Per-update middlewares: one unit of work per update, and the person's session."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram_dialog.api.entities import DialogUpdate

from services.core.context import AppContext
from services.identity.auth import AuthService
from storage.fsm import shared_session
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """Opens the update's unit of work and resolves the person's session.

    The session bookkeeping (touching it, or ending an idle one) is committed
    before the handler runs, so an expiry is recorded even if the handler fails.
    The handler's own work — with the conversation state, when it lives in the
    SQL database — is committed once, after the handler returns; an exception
    rolls it back. Background dialog updates read the session without touching
    it, so a push does not keep an idle session alive.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, ctx: AppContext) -> None:
        self.uow_factory = uow_factory
        self.ctx = ctx

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.uow_factory() as uow:
            with shared_session(uow.session):
                data["uow"] = uow
                data["ctx"] = self.ctx
                user = data.get("event_from_user")
                data["current_user"] = None
                data["session_expired"] = False
                if user is not None:
                    background = isinstance(event, DialogUpdate)
                    state = await AuthService(uow, self.ctx).resolve_session(
                        user.id, touch=not background
                    )
                    await uow.commit()
                    data["current_user"] = state.user
                    data["session_expired"] = state.expired
                result = await handler(event, data)
                await uow.commit()
                return result
