"""The bot works in private chats only.

Everything it shows — the application with the name, СНИЛС, passport and
address, the codes, the sign-in — is for one person. In a group, a supergroup
or a channel everyone in the chat would read it, so there the bot answers one
line asking to write in a private chat and does nothing else: no dialog is
started, no session is resolved, no conversation state is read or written.

The middleware sits on the update, before aiogram's FSM middleware (which takes
the conversation lock and reads the state), before the session middleware and
before aiogram-dialog. Updates without a chat (none of which the bot handles)
and aiogram-dialog's background updates (always of a private conversation the
bot itself started) pass through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, TelegramObject, Update
from aiogram_dialog.api.entities import DialogUpdate

__all__ = ["PRIVATE_ONLY", "PrivateOnlyMiddleware", "install_private_only"]

log = logging.getLogger(__name__)

PRIVATE_ONLY = "Бот работает только в личном чате. Напишите ему в личные сообщения, пожалуйста."

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _addressed(message: Message) -> bool:
    """A message a person wrote (not a service message: joined, left, pinned …)."""
    return any(
        (
            message.text,
            message.caption,
            message.document,
            message.photo,
            message.contact,
            message.location,
            message.sticker,
        )
    )


class PrivateOnlyMiddleware(BaseMiddleware):
    """Outside a private chat: the one line, and the update goes no further."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update) or isinstance(event, DialogUpdate):
            return await handler(event, data)
        chat = UserContextMiddleware.resolve_event_context(event).chat
        if chat is None or chat.type == ChatType.PRIVATE:
            return await handler(event, data)
        bot: Bot = data["bot"]
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(event.callback_query.id, text=PRIVATE_ONLY)
            else:
                message = event.message or event.channel_post
                if message is not None and _addressed(message):
                    await bot.send_message(chat.id, PRIVATE_ONLY)
        except TelegramAPIError as exc:
            # Not allowed to write there (a channel, a muted bot): nothing else to do.
            log.info("update %s in a %s chat: not answered (%s)", event.update_id, chat.type, exc)
        return None


def install_private_only(dp: Dispatcher) -> PrivateOnlyMiddleware:
    """Register the middleware just before aiogram's FSM middleware.

    aiogram registers its error, user-context and FSM middlewares on the update
    when the dispatcher is made and offers only appending: the ones from the FSM
    middleware on are taken off and put back after this one.
    """
    middleware = PrivateOnlyMiddleware()
    outer = dp.update.outer_middleware
    registered = list(outer)
    position = registered.index(dp.fsm) if dp.fsm in registered else len(registered)
    later = registered[position:]
    for item in later:
        outer.unregister(item)
    outer.register(middleware)
    for item in later:
        outer.register(item)
    return middleware
