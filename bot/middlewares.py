"""Per-update middlewares: one unit of work per update, and the person's session."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram_dialog.api.entities import DialogUpdate

from services.auth import AuthService
from services.context import AppContext
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """Opens the update's unit of work and resolves the person's session.

    The session bookkeeping (touching it, or ending an idle one) is committed
    before the handler runs, so an expiry is recorded even if the handler fails.
    The handler's own work is committed by `CommitMiddleware` as soon as the
    handler returns (and here again for events that middleware does not wrap);
    an exception rolls it back. Background dialog updates read the session without touching
    it, so a push does not keep an idle session alive.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, ctx: AppContext) -> None:
        self.uow_factory = uow_factory
        self.ctx = ctx

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.uow_factory() as uow:
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


class CommitMiddleware(BaseMiddleware):
    """Commits the update's unit of work as soon as the handler returns.

    Registered as an inner middleware after `setup_dialogs`, so it runs inside
    aiogram-dialog's context saver: the update's transaction is finished before
    the dialog's state is written. On SQLite, whose lock covers the whole file,
    the FSM write would otherwise wait for a transaction that waits for it.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        uow = data.get("uow")
        if uow is not None:
            await uow.commit()
        return result
