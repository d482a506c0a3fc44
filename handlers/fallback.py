"""Whatever no dialog took: say so in Russian and ask the same question again."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode

from dialogs.core.common import USE_BUTTONS
from dialogs.core.guard import protect

NOT_STARTED = "Чтобы начать, отправьте команду /start."


async def on_any_message(message: Message, dialog_manager: DialogManager) -> None:
    if dialog_manager.has_context():
        await message.answer(USE_BUTTONS)
        await dialog_manager.show(ShowMode.SEND)
    else:
        await message.answer(NOT_STARTED)


async def on_any_callback(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
    await callback.answer("Эта кнопка больше не действует.", show_alert=True)
    if dialog_manager.has_context():
        await dialog_manager.show(ShowMode.SEND)


def build_router() -> Router:
    router = protect(Router(name="fallback"))
    router.message.register(on_any_message)
    router.callback_query.register(on_any_callback)
    return router
