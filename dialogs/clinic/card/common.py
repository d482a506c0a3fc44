"""The doctor on the open card, and the use cases the changes go through."""

from __future__ import annotations

from aiogram_dialog import DialogManager

from dialogs.core.card import principal
from dialogs.core.common import ctx, work
from services.core.access import MSG_NO_STEP_UP, DoctorPrincipal
from services.core.errors import AccessDenied
from services.core.work import UseCases
from services.record.authored import Conclusions, DoctorEntries
from services.record.colleague import ColleagueExtracts, ColleagueSending


async def doctor(manager: DialogManager) -> DoctorPrincipal:
    """The doctor working on this card (asked of the access rule on this event)."""
    who = await principal(manager)
    if not isinstance(who, DoctorPrincipal) or who.acting_for is None:
        raise AccessDenied(MSG_NO_STEP_UP)
    return who


def entries(manager: DialogManager) -> UseCases[DoctorEntries]:
    return UseCases(work(manager), ctx(manager), DoctorEntries)


def sending(manager: DialogManager) -> UseCases[ColleagueExtracts]:
    return UseCases(work(manager), ctx(manager), ColleagueExtracts)


def conclusions(manager: DialogManager) -> Conclusions:
    return Conclusions(work(manager), ctx(manager))


def colleague_sending(manager: DialogManager) -> ColleagueSending:
    return ColleagueSending(work(manager), ctx(manager))
