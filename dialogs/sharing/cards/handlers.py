"""Entering «Карты близких» from /start and /menu, for a relative without a session."""

from __future__ import annotations

from aiogram_dialog import DialogManager, ShowMode, StartMode

from dialogs.core.common import ctx, user_id, work
from dialogs.sharing.cards.states import RelativeCards
from services.core.work import UseCases
from services.sharing.grants import SharingService


async def open_relative_home(manager: DialogManager) -> bool:
    """«Карты близких» for a Telegram user who accepted an invitation; False for anyone else."""
    tg = user_id(manager)
    cards = await UseCases(work(manager), ctx(manager), SharingService).run(
        lambda s: s.cards(tg, None)
    )
    if not cards:
        return False
    await manager.start(RelativeCards.main, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
    return True
