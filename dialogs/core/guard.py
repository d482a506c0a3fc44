"""Who may see which dialog: everything but signing in needs a live session.

The check runs before any dialog handler or window, at the moment of the
event, so an expired or ended session stops working on the next click.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import TelegramObject
from aiogram_dialog import DIALOG_EVENT_NAME
from aiogram_dialog.api.entities import Context
from aiogram_dialog.api.internal import CONTEXT_KEY

from dialogs.core.otp.states import Otp
from dialogs.identity.recovery.states import Recovery
from dialogs.identity.signin.states import SignIn
from dialogs.sharing.accept.states import AcceptInvitation
from dialogs.sharing.cards.states import RelativeCards
from services.core.errors import SessionRequired

# Dialogs a person uses before signing in. The code sub-dialog is bound to the
# account and purpose it was started for, so it is safe here too.
PUBLIC_GROUPS = frozenset({SignIn, Recovery, Otp})
# A relative needs no portal account: they are known by the Telegram account that
# accepted the invitation, and the access rule decides on every event (dialogs.core.card).
RELATIVE_GROUPS = frozenset({AcceptInvitation, RelativeCards})

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _on_card(context: Context) -> bool:
    return isinstance(context.start_data, dict) and isinstance(context.start_data.get("card"), int)


def needs_session(context: Context | None) -> bool:
    return (
        context is not None
        and context.state.group not in PUBLIC_GROUPS
        and context.state.group not in RELATIVE_GROUPS
        and not _on_card(context)
    )


class SessionGuard(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if data.get("current_user") is None and needs_session(data.get(CONTEXT_KEY)):
            raise SessionRequired("Чтобы продолжить, войдите в учётную запись.")
        return await handler(event, data)


class BackgroundGuard(BaseMiddleware):
    """A background refresh of a protected window is dropped once the session is gone."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if data.get("current_user") is None and needs_session(data.get(CONTEXT_KEY)):
            return None
        return await handler(event, data)


def protect(router: Router) -> Router:
    """Guard the dialogs (or other handlers) of `router` against a missing session."""
    guard = SessionGuard()
    router.message.middleware(guard)
    router.callback_query.middleware(guard)
    return router


def protect_background(root: Router) -> None:
    """Background updates are handled by the root router that `setup_dialogs` was given."""
    root.observers[DIALOG_EVENT_NAME].middleware(BackgroundGuard())
