"""The relative's side of an invitation: the link, their own phone, the code, the consent.

Each step asks the sharing service again (the invitation may have been withdrawn
meanwhile); the dialog keeps only the hash of the link's token, never the token.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.card import CARD
from dialogs.core.common import clear_error, ctx, delete_quietly, guarded, set_error, user_id, work
from dialogs.record.card.states import RecordCard
from dialogs.sharing.accept.states import AcceptInvitation
from dialogs.sharing.cards.states import RelativeCards
from services.core.access import CurrentUser
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.sharing.grants import INVITE_PREFIX, SharingService

PRESS_SHARE = "Нажмите кнопку «Поделиться номером» внизу экрана."


def sharing(manager: DialogManager) -> UseCases[SharingService]:
    return UseCases(work(manager), ctx(manager), SharingService)


async def open_invitation_link(
    message: Message, command: CommandObject, dialog_manager: DialogManager
) -> None:
    """``/start inv_<token>``: the invitation, whoever opens it (no sign-in needed)."""
    token = (command.args or "").removeprefix(INVITE_PREFIX)
    await dialog_manager.start(
        AcceptInvitation.intro,
        data={"token": token},
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


def _ref(manager: DialogManager) -> str:
    return str(manager.dialog_data.get("ref", ""))


async def _closed(manager: DialogManager, text: str) -> None:
    manager.dialog_data["closed"] = text
    await manager.switch_to(AcceptInvitation.closed)


async def on_start(_data: Any, manager: DialogManager) -> None:
    start = manager.start_data
    token = start.pop("token", "") if isinstance(start, dict) else ""
    try:
        view = await sharing(manager).run(lambda s: s.open_invitation(str(token), user_id(manager)))
    except DomainError as exc:
        await _closed(manager, exc.message)
        return
    manager.dialog_data.update(
        ref=view.ref,
        patient=view.patient,
        level=view.level_text,
        until=view.until,
        sensitive=view.include_sensitive,
        phone=view.phone,
    )


async def on_contact(message: Message, _widget: Any, manager: DialogManager) -> None:
    contact = message.contact
    if contact is None:
        set_error(manager, PRESS_SHARE)
        return
    clear_error(manager)
    try:
        sent_to = await sharing(manager).run(
            lambda s: s.share_contact(
                _ref(manager), user_id(manager), contact.phone_number, contact.user_id
            )
        )
    except DomainError as exc:
        text = exc.message
        state = await sharing(manager).run(lambda s: s.link_state(_ref(manager)))
        if state is not None:
            await _closed(manager, state)
            manager.show_mode = ShowMode.DELETE_AND_SEND
            return
        set_error(manager, text)
        return
    manager.dialog_data["sent_to"] = sent_to
    await manager.switch_to(AcceptInvitation.code, show_mode=ShowMode.DELETE_AND_SEND)


async def on_not_contact(message: Message, _widget: Any, manager: DialogManager) -> None:
    await delete_quietly(message)
    manager.show_mode = ShowMode.EDIT
    set_error(manager, PRESS_SHARE)


async def on_code(_m: Message, manager: DialogManager, text: str) -> None:
    await sharing(manager).run(lambda s: s.confirm_code(_ref(manager), user_id(manager), text))
    await manager.switch_to(AcceptInvitation.consent)


async def on_resend(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    async def resend() -> None:
        sent_to = await sharing(manager).run(
            lambda s: s.resend_code(_ref(manager), user_id(manager))
        )
        manager.dialog_data["sent_to"] = sent_to

    await guarded(manager, resend)


async def on_agree(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user: CurrentUser | None = manager.middleware_data.get("current_user")

    async def accept() -> None:
        card = await sharing(manager).run(
            lambda s: s.accept(_ref(manager), user_id(manager), user.account_id if user else None)
        )
        manager.dialog_data.update(card=card.patient_account_id, line=card.level_text)

    try:
        if await guarded(manager, accept):
            await manager.switch_to(AcceptInvitation.done)
    except SessionRequired:
        raise


async def on_open_card(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    card = manager.dialog_data.get("card")
    if not isinstance(card, int):
        return
    await manager.start(RecordCard.main, data={CARD: card}, mode=StartMode.RESET_STACK)


async def on_cards(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(RelativeCards.main, mode=StartMode.RESET_STACK)
