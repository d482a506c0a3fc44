"""What the buttons and answers of «Доступ для близких» do, written through SharingService.

The invitation's answers are kept in dialog data (``draft``) and checked again
by the service; nothing is written before the code confirms the invitation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.types import CallbackQuery, Message
from aiogram.utils.deep_linking import create_deep_link
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import clear_error, ctx, current_user, guarded, set_error
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.sharing.access.getters import sharing
from dialogs.sharing.access.states import RelativesAccess
from services.core.errors import DomainError, SessionRequired
from services.identity.otp import Channel, Purpose
from services.sharing.grants import (
    InviteDraft,
    SharingService,
    msk_today,
    parse_level,
    parse_name,
    parse_phone,
    parse_relationship,
    parse_until,
)

NOT_CONFIRMED = "Действие не подтверждено: код не был введён."


async def link_maker(manager: DialogManager) -> Callable[[str], str]:
    """`https://t.me/<bot>?start=<payload>`, by aiogram's deep-linking helper."""
    bot: Bot = manager.middleware_data["bot"]
    me = await bot.me()
    username = me.username or "bot"
    return lambda payload: create_deep_link(username, "start", payload)


def _do(manager: DialogManager, call: Callable[[SharingService], Awaitable[object]]) -> Any:
    """A use case for `guarded` (which takes an action returning nothing)."""

    async def action() -> None:
        await sharing(manager).run(call)

    return action


def _draft(manager: DialogManager) -> dict[str, Any]:
    draft: dict[str, Any] = manager.dialog_data.setdefault("draft", {})
    return draft


# -- the list and one grant --------------------------------------------------------------


async def on_grant(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data["grant_id"] = int(item_id)
    await manager.switch_to(RelativesAccess.grant)


def _grant_id(manager: DialogManager) -> int:
    return int(manager.dialog_data.get("grant_id", 0))


async def on_level(_c: CallbackQuery, _w: Any, manager: DialogManager, level: str) -> None:
    user = current_user(manager)
    grant_id = _grant_id(manager)

    async def change() -> None:
        view = await sharing(manager).run(lambda s: s.grant(user, grant_id))
        await sharing(manager).run(
            lambda s: s.change_level(user, grant_id, level, view.include_sensitive)
        )

    if await guarded(manager, change):
        await manager.switch_to(RelativesAccess.grant)


def _sensitive(value: bool) -> Any:
    async def handler(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
        user = current_user(manager)
        grant_id = _grant_id(manager)

        async def change() -> None:
            view = await sharing(manager).run(lambda s: s.grant(user, grant_id))
            await sharing(manager).run(lambda s: s.change_level(user, grant_id, view.level, value))

        if await guarded(manager, change):
            await manager.switch_to(RelativesAccess.grant)

    return handler


on_sensitive_on = _sensitive(True)
on_sensitive_off = _sensitive(False)


async def on_extend_date(_m: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    until = parse_until(text, msk_today(ctx(manager)))
    await sharing(manager).run(lambda s: s.extend(user, _grant_id(manager), until))
    await manager.switch_to(RelativesAccess.grant)


async def on_extend_forever(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    if await guarded(manager, _do(manager, lambda s: s.extend(user, _grant_id(manager), None))):
        await manager.switch_to(RelativesAccess.grant)


async def on_revoke(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Отозвать» confirmed: the code first (the revocation itself is in `on_result`)."""
    user = current_user(manager)
    grant_id = _grant_id(manager)
    clear_error(manager)
    try:
        ref = await sharing(manager).run(lambda s: s.prepare_revoke(user, grant_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    manager.dialog_data.update(confirming="revoke", action_ref=ref)
    request = CodeRequest(user.account_id, Purpose.SHARING, Channel.SMS, action_ref=ref)
    await manager.start(Otp.code, data=request.to_data())


async def on_resend(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    grant_id = _grant_id(manager)
    link_of = await link_maker(manager)

    async def resend() -> None:
        invitation = await sharing(manager).run(lambda s: s.resend(user, grant_id, link_of))
        _done(manager, invitation.link, invitation.sms_sent)

    if await guarded(manager, resend):
        await manager.switch_to(RelativesAccess.invite_done)


async def on_withdraw(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    grant_id = _grant_id(manager)
    await guarded(manager, _do(manager, lambda s: s.withdraw(user, grant_id)))


def _done(manager: DialogManager, link: str, sms_sent: bool) -> None:
    manager.dialog_data["link"] = link
    manager.dialog_data["sms_line"] = (
        "Ссылка также отправлена в SMS на номер близкого человека."
        if sms_sent
        else "SMS со ссылкой отправить не удалось: перешлите ссылку сами."
    )


# -- the invitation -----------------------------------------------------------------------


async def on_invite(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["draft"] = {}
    await manager.switch_to(RelativesAccess.invite_name)


async def on_name(_m: Message, manager: DialogManager, text: str) -> None:
    _draft(manager)["full_name"] = parse_name(text)
    await manager.switch_to(RelativesAccess.invite_phone)


async def on_phone(_m: Message, manager: DialogManager, text: str) -> None:
    _draft(manager)["phone"] = parse_phone(text)
    await manager.switch_to(RelativesAccess.invite_relationship)


async def on_relationship(_c: CallbackQuery, _w: Any, manager: DialogManager, value: str) -> None:
    try:
        _draft(manager)["relationship"] = parse_relationship(value)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    await manager.switch_to(RelativesAccess.invite_level)


async def on_invite_level(_c: CallbackQuery, _w: Any, manager: DialogManager, value: str) -> None:
    try:
        _draft(manager)["level"] = parse_level(value)
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    clear_error(manager)
    await manager.switch_to(RelativesAccess.invite_term)


async def on_forever(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    _draft(manager).update(until=None, term_set=True)
    await manager.switch_to(RelativesAccess.invite_sensitive)


async def on_until(_m: Message, manager: DialogManager, text: str) -> None:
    until = parse_until(text, msk_today(ctx(manager)))
    _draft(manager).update(until=until.isoformat(), term_set=True)
    await manager.switch_to(RelativesAccess.invite_sensitive)


def _include(value: bool) -> Any:
    async def handler(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
        clear_error(manager)
        _draft(manager).update(include_sensitive=value, sensitive_set=True)
        await manager.switch_to(RelativesAccess.invite_review)

    return handler


on_include_no = _include(False)
on_include_yes = _include(True)


async def on_confirm_invite(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    user = current_user(manager)
    clear_error(manager)
    try:
        draft = InviteDraft.from_data(_draft(manager))
        ref = await sharing(manager).run(lambda s: s.prepare_invite(user, draft))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    except (KeyError, ValueError):
        await manager.switch_to(RelativesAccess.invite_name)
        return
    manager.dialog_data.update(confirming="invite", action_ref=ref)
    request = CodeRequest(user.account_id, Purpose.SHARING, Channel.SMS, action_ref=ref)
    await manager.start(Otp.code, data=request.to_data())


async def on_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    """The code sub-dialog ended: send the invitation or revoke, when it was confirmed."""
    confirming = manager.dialog_data.pop("confirming", None)
    action_ref = manager.dialog_data.pop("action_ref", None)
    user = current_user(manager)
    if not isinstance(action_ref, str) or not code_confirmed(
        start_data,
        result,
        purpose=Purpose.SHARING,
        account_id=user.account_id,
        action_ref=action_ref,
    ):
        if confirming is not None:
            set_error(manager, NOT_CONFIRMED)
        return
    if confirming == "invite":
        link_of = await link_maker(manager)

        async def invite() -> None:
            draft = InviteDraft.from_data(_draft(manager))
            invitation = await sharing(manager).run(lambda s: s.invite(user, draft, link_of))
            _done(manager, invitation.link, invitation.sms_sent)
            manager.dialog_data["grant_id"] = invitation.grant_id

        if await guarded(manager, invite):
            manager.dialog_data.pop("draft", None)
            await manager.switch_to(RelativesAccess.invite_done)
    elif confirming == "revoke":
        grant_id = _grant_id(manager)
        if await guarded(manager, _do(manager, lambda s: s.revoke(user, grant_id))):
            await manager.switch_to(RelativesAccess.grant)
