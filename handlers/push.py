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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from aiogram import F, Router
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager, ShowMode, StartMode

from dialogs.booking.book.states import BookVisit
from dialogs.booking.contract import BookStart, OfferStart, VisitsStart
from dialogs.booking.offer.states import WaitlistOffer
from dialogs.booking.visits.states import MyVisits
from dialogs.chat.doctor.states import PatientQuestions
from dialogs.chat.mine.states import MyQuestions
from dialogs.core.card import CARD
from dialogs.enrolment.status.states import ApplicationStatus
from dialogs.record.labs.states import LabResults
from dialogs.sharing import push as sharing_push
from handlers.commands import open_home
from services.core.access import CurrentUser
from services.core.notify import ButtonAction

__all__ = ["MAX_CALLBACK_LENGTH", "PushAction", "build_router", "callback_data_of"]

SIGN_IN_FOR_STATUS = "Чтобы посмотреть статус заявки, войдите в учётную запись."
SIGN_IN_FOR_RESULT = "Чтобы открыть результат анализа, войдите в учётную запись."
NO_SUCH_RESULT = "Такого результата анализа нет."
SIGN_IN_FOR_VISIT = "Чтобы открыть запись на приём, войдите в учётную запись."
SIGN_IN_FOR_OFFER = "Чтобы записаться на освободившееся время, войдите в учётную запись."
NO_SUCH_VISIT = "Такой записи нет."
NO_SUCH_OFFER = "Такого предложения нет."
SIGN_IN_FOR_QUESTION = "Чтобы открыть переписку с врачом, войдите в учётную запись."
NO_SUCH_QUESTION = "Такого вопроса нет."


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


def _small_number(arg: str) -> int | None:
    """The id a push button carries, or None when it is not a small number (forged)."""
    if not arg.isdigit() or len(arg) > 18:
        return None
    return int(arg)


@dataclass(frozen=True)
class _BookingTarget:
    """Where a booking push button leads: its window and the start data for the id it carries."""

    sign_in: str
    no_such: str
    state: State
    data: Callable[[int], dict[str, Any]]


_BOOKING_TARGETS: dict[ButtonAction, _BookingTarget] = {
    # «Мои записи» under a push: that visit.
    ButtonAction.VISIT: _BookingTarget(
        SIGN_IN_FOR_VISIT,
        NO_SUCH_VISIT,
        MyVisits.visit,
        lambda visit_id: VisitsStart(visit_id=visit_id).to_data(),
    ),
    # «Отменить» under a reminder: «Отменить запись?» for that visit.
    ButtonAction.VISIT_CANCEL: _BookingTarget(
        SIGN_IN_FOR_VISIT,
        NO_SUCH_VISIT,
        MyVisits.cancel,
        lambda visit_id: VisitsStart(visit_id=visit_id, cancel=True).to_data(),
    ),
    # «Перенести» under a reminder: the calendar for moving that visit.
    ButtonAction.VISIT_MOVE: _BookingTarget(
        SIGN_IN_FOR_VISIT,
        NO_SUCH_VISIT,
        BookVisit.calendar,
        lambda visit_id: BookStart(move_visit_id=visit_id).to_data(),
    ),
    # «Выбрать другое время» after the clinic cancelled a visit: its doctor's calendar.
    ButtonAction.REBOOK: _BookingTarget(
        SIGN_IN_FOR_VISIT,
        NO_SUCH_VISIT,
        BookVisit.calendar,
        lambda visit_id: BookStart(rebook_visit_id=visit_id).to_data(),
    ),
    # «Записаться» under «Освободилось время»: the offer, or why it is gone.
    ButtonAction.WAITLIST_OFFER: _BookingTarget(
        SIGN_IN_FOR_OFFER,
        NO_SUCH_OFFER,
        WaitlistOffer.main,
        lambda offer_id: OfferStart(offer_id=offer_id).to_data(),
    ),
    # «Открыть» under a doctor's answer: the patient's thread in «Мои вопросы».
    ButtonAction.CHAT: _BookingTarget(
        SIGN_IN_FOR_QUESTION,
        NO_SUCH_QUESTION,
        MyQuestions.thread,
        lambda thread_id: {"thread_id": thread_id},
    ),
    # «Открыть» under a patient's question: the doctor's thread in «Вопросы пациентов».
    ButtonAction.CHAT_DOCTOR: _BookingTarget(
        SIGN_IN_FOR_QUESTION,
        NO_SUCH_QUESTION,
        PatientQuestions.thread,
        lambda thread_id: {"thread_id": thread_id},
    ),
}


async def on_booking(
    callback: CallbackQuery,
    callback_data: PushAction,
    dialog_manager: DialogManager,
    current_user: CurrentUser | None,
) -> None:
    """A booking push button: its window, or the sign-in first.

    The windows ask the service (the access rule) themselves, so a forged or
    another person's id shows a refusal there, never data.
    """
    target = _BOOKING_TARGETS[callback_data.action]
    if current_user is None:
        await callback.answer(target.sign_in, show_alert=True)
        await open_home(dialog_manager, None, welcome=False)
        return
    item_id = _small_number(callback_data.arg)
    if item_id is None:
        await callback.answer(target.no_such, show_alert=True)
        return
    await callback.answer()
    await dialog_manager.start(
        target.state,
        data=target.data(item_id),
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


async def on_chat_card(
    callback: CallbackQuery,
    callback_data: PushAction,
    dialog_manager: DialogManager,
    current_user: CurrentUser | None,
) -> None:
    """«Открыть» under a doctor's answer to a relative: the thread on the patient's card.

    The argument is ``<patient>_<thread>``; the card's guard and the chat's service
    ask the access rule themselves, so a revoked grant or a forged id is refused there.
    """
    patient, _, thread = callback_data.arg.partition("_")
    patient_id, thread_id = _small_number(patient), _small_number(thread)
    if patient_id is None or thread_id is None:
        await callback.answer(NO_SUCH_QUESTION, show_alert=True)
        return
    await callback.answer()
    await dialog_manager.start(
        MyQuestions.thread,
        data={"thread_id": thread_id, CARD: patient_id},
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


async def on_sharing(
    callback: CallbackQuery,
    callback_data: PushAction,
    current_user: CurrentUser | None,
    **data: Any,
) -> None:
    """«Запросить доступ снова» (the relative), «Разрешить» / «Отклонить» (the patient)."""
    if callback_data.action == ButtonAction.SHARING_REQUEST:
        await sharing_push.on_request_again(callback, callback_data.arg, current_user, data)
        return
    allow = callback_data.action == ButtonAction.SHARING_ALLOW
    await sharing_push.on_answer(callback, callback_data.arg, current_user, data, allow=allow)


def build_router() -> Router:
    router = Router(name="push")
    router.callback_query.register(on_menu, PushAction.filter(F.action == ButtonAction.MENU))
    router.callback_query.register(on_status, PushAction.filter(F.action == ButtonAction.STATUS))
    router.callback_query.register(on_result, PushAction.filter(F.action == ButtonAction.RESULT))
    router.callback_query.register(
        on_booking, PushAction.filter(F.action.in_(tuple(_BOOKING_TARGETS)))
    )
    router.callback_query.register(
        on_chat_card, PushAction.filter(F.action == ButtonAction.CHAT_CARD)
    )
    sharing_actions = (
        ButtonAction.SHARING_REQUEST,
        ButtonAction.SHARING_ALLOW,
        ButtonAction.SHARING_DECLINE,
    )
    router.callback_query.register(on_sharing, PushAction.filter(F.action.in_(sharing_actions)))
    return router
