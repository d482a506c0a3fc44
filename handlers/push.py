"""The buttons under push messages: their callback data, and what pressing them does.

Services queue a button as plain data (`services.core.notify.Button`: a text, an
action, maybe an argument); `PushAction` turns it into Telegram's callback data
for the notifier and back into an action for the handlers' filters.

The callback data is ``push:<action>`` — or ``push:<action>:<arg>`` when the
button has an argument. That is exactly what buttons carried before this class
existed (``push:menu``, ``push:status``), so messages already in the chats and
outbox rows queued before (``{"callback_data": "push:status"}``) keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from aiogram import F, Router
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData
from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager, ShowMode, StartMode

from dialogs.enrolment.status.states import ApplicationStatus
from dialogs.record.labs.states import LabResults
from handlers.commands import open_home
from services.core.access import CurrentUser
from services.core.notify import ButtonAction

__all__ = ["MAX_CALLBACK_LENGTH", "PushAction", "build_router", "callback_data_of"]

SIGN_IN_FOR_STATUS = "Чтобы посмотреть статус заявки, войдите в учётную запись."
SIGN_IN_FOR_RESULT = "Чтобы открыть результат анализа, войдите в учётную запись."
NO_SUCH_RESULT = "Такого результата анализа нет."


class PushAction(CallbackData, prefix="push"):
    """``push:<action>[:<arg>]``; an unknown action does not parse (the filter says no)."""

    action: ButtonAction
    arg: str = ""

    def pack(self) -> str:
        packed = super().pack()
        # Without an argument: "push:status", not "push:status:" (as before `arg` existed).
        return packed if self.arg else packed.removesuffix(self.__separator__)

    @classmethod
    def unpack(cls, value: str) -> Self:
        if value.count(cls.__separator__) == 1:  # "push:status": no argument
            value += cls.__separator__
        return super().unpack(value)


def callback_data_of(button: Mapping[str, Any]) -> str:
    """The callback data for a button of an outbox row.

    Rows hold ``{"text", "action"[, "arg"]}``; rows queued before hold
    ``{"text", "callback_data"}``, which is read back and packed again, so a
    value no handler answers fails here instead of reaching a chat.
    """
    if "action" in button:
        return PushAction(action=button["action"], arg=button.get("arg", "")).pack()
    return PushAction.unpack(button["callback_data"]).pack()


async def on_menu(
    callback: CallbackQuery, dialog_manager: DialogManager, current_user: CurrentUser | None
) -> None:
    await callback.answer()
    await open_home(dialog_manager, current_user, welcome=False)


async def on_status(
    callback: CallbackQuery, dialog_manager: DialogManager, current_user: CurrentUser | None
) -> None:
    """«Статус заявки» under a push message: the status, or the sign-in first."""
    if current_user is None:
        await callback.answer(SIGN_IN_FOR_STATUS, show_alert=True)
        await open_home(dialog_manager, None, welcome=False)
        return
    await callback.answer()
    await dialog_manager.start(
        ApplicationStatus.main, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND
    )


async def on_result(
    callback: CallbackQuery,
    callback_data: PushAction,
    dialog_manager: DialogManager,
    current_user: CurrentUser | None,
) -> None:
    """«Открыть результат» under a push message: the result, or the sign-in first.

    The result window asks the access rule itself, so a forged or another
    person's id shows a refusal there, never data.
    """
    if current_user is None:
        await callback.answer(SIGN_IN_FOR_RESULT, show_alert=True)
        await open_home(dialog_manager, None, welcome=False)
        return
    if not callback_data.arg.isdigit() or len(callback_data.arg) > 18:
        await callback.answer(NO_SUCH_RESULT, show_alert=True)
        return
    await callback.answer()
    await dialog_manager.start(
        LabResults.detail,
        data={"result_id": int(callback_data.arg)},
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


def build_router() -> Router:
    router = Router(name="push")
    router.callback_query.register(on_menu, PushAction.filter(F.action == ButtonAction.MENU))
    router.callback_query.register(on_status, PushAction.filter(F.action == ButtonAction.STATUS))
    router.callback_query.register(on_result, PushAction.filter(F.action == ButtonAction.RESULT))
    return router
