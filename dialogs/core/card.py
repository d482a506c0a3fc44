"""Working on someone else's card: the record's screens opened from «Карты близких».

A card shared with the person is opened with start data ``{"card": <patient's
account id>}``; every dialog started from it passes the same data on
(`card_data`). Who works with it — the portal account acting for the patient,
or the relative known by their Telegram account — is decided by the sharing
service through the access rule on every event (`CardGuard`, `principal`),
so a revoked or expired grant stops the next click: «Доступ к карте … отозван»
and the relative's own menu. Every window of a card carries `card_header`
(«Карта: Иванова А. С. · только просмотр»); buttons the level does not allow
are hidden (`can_download`, `can_book`); a forged press of a hidden button that
starts a dialog is refused here (`card_start`, `require_level`) with the level's
reason, and the services refuse any other forged press anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.entities import Context
from aiogram_dialog.api.internal import CONTEXT_KEY
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.kbd.button import OnClick
from aiogram_dialog.widgets.text import Const, Text

from dialogs.clinic.cabinet.states import DoctorCabinet
from dialogs.clinic.card.states import DoctorActions
from dialogs.core.common import ctx, current_user, guarded, user_id, work
from dialogs.menu.states import MainMenu
from dialogs.sharing.cards.states import RelativeCards
from services.clinic.patients import ClinicService, DoctorCard
from services.core.access import LEVEL_REASONS, CardUser, CurrentUser, Permission
from services.core.errors import AccessDenied, SessionRequired
from services.core.work import Work, in_unit
from services.sharing.grants import CardAccess, SharingService

__all__ = [
    "CARD",
    "CardGuard",
    "card_access",
    "card_data",
    "card_header",
    "card_of",
    "card_start",
    "doctor_actions_button",
    "home_button",
    "is_own",
    "on_card",
    "on_own",
    "principal",
    "protect_cards",
    "require_level",
]

CARD = "card"
# On a card a doctor opened (services.clinic): the doctor's staff row.
DOCTOR = "doctor"
ACCESS_KEY = "card_access"
OpenCard = CardAccess | DoctorCard


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


def _doctor_in(start_data: object) -> int | None:
    """The doctor's staff row, when the card was opened by a doctor."""
    if isinstance(start_data, dict):
        staff = start_data.get(DOCTOR)
        if isinstance(staff, int) and not isinstance(staff, bool):
            return staff
    return None


def card_data(manager: DialogManager, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Start data (`data`, if any) that keeps a dialog started from here on the same card."""
    card = card_of(manager)
    if card is None:
        return data
    staff = _doctor_in(manager.start_data)
    return {**(data or {}), CARD: card, **({DOCTOR: staff} if staff is not None else {})}


def is_own(manager: DialogManager) -> bool:
    return card_of(manager) is None


async def _access(
    work_: Work,
    ctx_: Any,
    telegram_user_id: int,
    user: CurrentUser | None,
    card: int,
    staff: int | None = None,
) -> OpenCard:
    if staff is not None:
        # A doctor's card: the signed-in doctor, their staff row and the step-up.
        if user is None:
            raise SessionRequired("Чтобы продолжить, войдите в учётную запись.")
        doctor = user
        return await in_unit(
            work_, lambda uow: ClinicService(uow, ctx_).card_access(doctor, staff, card)
        )
    return await in_unit(
        work_, lambda uow: SharingService(uow, ctx_).card_access(telegram_user_id, user, card)
    )


async def card_access(manager: DialogManager) -> OpenCard | None:
    """The card open in this dialog, asked for afresh once per event (None: one's own)."""
    card = card_of(manager)
    if card is None:
        return None
    cached = manager.middleware_data.get(ACCESS_KEY)
    if isinstance(cached, CardAccess | DoctorCard) and cached.patient_account_id == card:
        return cached
    user: CurrentUser | None = manager.middleware_data.get("current_user")
    staff = _doctor_in(manager.start_data)
    access = await _access(work(manager), ctx(manager), user_id(manager), user, card, staff)
    manager.middleware_data[ACCESS_KEY] = access
    return access


async def principal(manager: DialogManager) -> CardUser:
    """Who works with the data shown: the signed-in person, or the one a card was shared with."""
    access = await card_access(manager)
    if access is None:
        return current_user(manager)
    return access.principal


def _allowed(access: OpenCard, permission: Permission) -> bool:
    if permission == Permission.DOWNLOAD:
        return access.can_download
    if permission == Permission.MANAGE_VISITS:
        return access.can_book
    return permission == Permission.READ_RECORD


async def require_level(manager: DialogManager, permission: Permission) -> None:
    """On someone else's card: AccessDenied with the reason unless the level allows it.

    On one's own card nothing is checked here: the service asks the access rule.
    """
    access = await card_access(manager)
    if access is not None and not _allowed(access, permission):
        raise AccessDenied(LEVEL_REASONS.get(permission, "Этот доступ к карте не позволяет."))


def card_start(state: State, permission: Permission | None = None) -> OnClick:
    """A button that starts `state` on the same card, once the level allows `permission`.

    A refusal (a forged press of a button the level hides) is shown in the window.
    """

    async def on_click(_c: CallbackQuery, _b: Any, manager: DialogManager) -> None:
        if permission is not None:

            async def check() -> None:
                await require_level(manager, permission)

            if not await guarded(manager, check):
                return
        await manager.start(state, data=card_data(manager))

    return on_click


class CardLineText(Text):
    """«Карта: Иванова А. С. · только просмотр» at the top of every window of a card."""

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        if card_of(manager) is None:
            return ""
        try:
            access = await card_access(manager)
        except AccessDenied:  # the next event is refused by CardGuard with the reason
            return ""
        return "" if access is None else access.line + "\n"


def on_card(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    """A `when` condition: the window shows someone else's card."""
    return card_of(manager) is not None


def on_own(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    """A `when` condition: the window shows the person's own data."""
    return card_of(manager) is None


card_header = CardLineText(when=on_card)


def on_doctor_card(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    """A `when` condition: a doctor's card (opened with a step-up in «Кабинет врача»)."""
    return card_of(manager) is not None and _doctor_in(manager.start_data) is not None


async def _on_doctor_actions(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(DoctorActions.main, data=card_data(manager))


# «Внести в карту»: the doctor's changes (dialogs.clinic.card), on a doctor's card only.
doctor_actions_button = Button(
    Const("Внести в карту"), id="doctor_actions", on_click=_on_doctor_actions, when=on_doctor_card
)


async def go_home(manager: DialogManager, notice: str | None = None) -> None:
    """The person's own menu: the main menu, «Карты близких» for a relative on a card, or
    «Пациенты» for a doctor on a patient's card."""
    if card_of(manager) is not None and _doctor_in(manager.start_data) is not None:
        data = {"notice": notice} if notice else None
        await manager.start(DoctorCabinet.patients, data=data, mode=StartMode.RESET_STACK)
        return
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
        context = data.get(CONTEXT_KEY)
        staff = _doctor_in(context.start_data) if context is not None else None
        try:
            access = await _access(
                data["work"], data["ctx"], int(sender.id), data.get("current_user"), card, staff
            )
        except AccessDenied as exc:
            if isinstance(event, CallbackQuery):
                await event.answer(exc.message, show_alert=True)
            manager.show_mode = ShowMode.SEND if isinstance(event, Message) else ShowMode.EDIT
            home = RelativeCards.main if staff is None else DoctorCabinet.patients
            await manager.start(home, data={"notice": exc.message}, mode=StartMode.RESET_STACK)
            return None
        manager.middleware_data[ACCESS_KEY] = access
        return await handler(event, data)


def protect_cards(router: Router) -> Router:
    guard = CardGuard()
    router.message.middleware(guard)
    router.callback_query.middleware(guard)
    return router
