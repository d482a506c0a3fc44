"""Working on someone else's card: the record's screens opened from «Карты близких».

A card shared with the person is opened with start data ``{"card": <patient's
account id>}``; every dialog started from it passes the same data on
(`card_data`). Who works with it — the portal account acting for the patient,
or the relative known by their Telegram account — is decided by the sharing
service through the access rule on every event (`CardGuard`, `principal`),
so a revoked or expired grant stops the next click: «Доступ к карте … отозван»
and the relative's own menu. Every window of a card carries `card_header`
(«Карта: Иванова А. С. · только просмотр»); buttons the level does not allow
are hidden (`can_download`), and the services refuse a forged press anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.entities import Context
from aiogram_dialog.api.internal import CONTEXT_KEY
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Text

from dialogs.core.common import ctx, current_user, user_id, work
from dialogs.menu.states import MainMenu
from dialogs.sharing.cards.states import RelativeCards
from services.core.access import CardUser, CurrentUser
from services.core.errors import AccessDenied
from services.core.work import Work, in_unit
from services.sharing.grants import CardAccess, SharingService

__all__ = [
    "CARD",
    "CardGuard",
    "card_access",
    "card_data",
    "card_header",
    "card_of",
    "home_button",
    "is_own",
    "principal",
    "protect_cards",
]

CARD = "card"
ACCESS_KEY = "card_access"


def _card_in(start_data: object) -> int | None:
    if isinstance(start_data, dict):
        card = start_data.get(CARD)
        if isinstance(card, int) and not isinstance(card, bool):
            return card
    return None


def card_of(manager: DialogManager) -> int | None:
    """The patient whose card this dialog shows, when it is not the person's own."""
    return _card_in(manager.start_data)


def card_of_context(context: Context | None) -> int | None:
    return None if context is None else _card_in(context.start_data)


def card_data(manager: DialogManager) -> dict[str, Any] | None:
    """Start data that keeps a dialog started from here on the same card."""
    card = card_of(manager)
    return None if card is None else {CARD: card}


def is_own(manager: DialogManager) -> bool:
    return card_of(manager) is None


async def _access(
    work_: Work, ctx_: Any, telegram_user_id: int, user: CurrentUser | None, card: int
) -> CardAccess:
    return await in_unit(
        work_, lambda uow: SharingService(uow, ctx_).card_access(telegram_user_id, user, card)
    )


async def card_access(manager: DialogManager) -> CardAccess | None:
    """The card open in this dialog, asked for afresh once per event (None: one's own)."""
    card = card_of(manager)
    if card is None:
        return None
    cached = manager.middleware_data.get(ACCESS_KEY)
    if isinstance(cached, CardAccess) and cached.patient_account_id == card:
        return cached
    user: CurrentUser | None = manager.middleware_data.get("current_user")
    access = await _access(work(manager), ctx(manager), user_id(manager), user, card)
    manager.middleware_data[ACCESS_KEY] = access
    return access


async def principal(manager: DialogManager) -> CardUser:
    """Who works with the data shown: the signed-in person, or the one a card was shared with."""
    access = await card_access(manager)
    if access is None:
        return current_user(manager)
    return access.principal


class CardLineText(Text):
    """«Карта: Иванова А. С. · только просмотр» at the top of every window of a card."""

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        access = manager.middleware_data.get(ACCESS_KEY)
        if card_of(manager) is None or not isinstance(access, CardAccess):
            return ""
        return access.line + "\n"


def _on_card(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    return card_of(manager) is not None


card_header = CardLineText(when=_on_card)


async def go_home(manager: DialogManager, notice: str | None = None) -> None:
    """The person's own menu: the main menu, or «Карты близких» for a relative on a card."""
    if card_of(manager) is not None or manager.middleware_data.get("current_user") is None:
        data = {"notice": notice} if notice else None
        await manager.start(RelativeCards.main, data=data, mode=StartMode.RESET_STACK)
        return
    await manager.start(MainMenu.main, mode=StartMode.RESET_STACK)


async def _on_home(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await go_home(manager)


def home_button(*, id: str = "to_menu", text: str = "В меню", when: WhenCondition = None) -> Button:
    """«В меню»: the main menu; on someone else's card, «Карты близких»."""
    return Button(Const(text), id=id, on_click=_on_home, when=when)


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class CardGuard(BaseMiddleware):
    """Each event on a card asks the access rule first; a refusal ends the card's screens."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        card = card_of_context(data.get(CONTEXT_KEY))
        manager: DialogManager | None = data.get("dialog_manager")
        sender = getattr(event, "from_user", None)
        if card is None or manager is None or sender is None:
            return await handler(event, data)
        try:
            access = await _access(
                data["work"], data["ctx"], int(sender.id), data.get("current_user"), card
            )
        except AccessDenied as exc:
            if isinstance(event, CallbackQuery):
                await event.answer(exc.message, show_alert=True)
            manager.show_mode = ShowMode.SEND if isinstance(event, Message) else ShowMode.EDIT
            await manager.start(
                RelativeCards.main, data={"notice": exc.message}, mode=StartMode.RESET_STACK
            )
            return None
        manager.middleware_data[ACCESS_KEY] = access
        return await handler(event, data)


def protect_cards(router: Router) -> Router:
    guard = CardGuard()
    router.message.middleware(guard)
    router.callback_query.middleware(guard)
    return router
