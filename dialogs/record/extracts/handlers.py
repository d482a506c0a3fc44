"""What the windows of «Выписки и заключения» do: open, page, download, request an extract.

A document a button opens is read by the service within the card being worked
on, so a forged button with someone else's id shows a refusal, never their data.
A date typed wrong is refused with the reason and asked for again; the dates and
choices made before stay. Files are sent with ``protect_content``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.card import principal
from dialogs.core.common import chat_id, clear_error, ctx, guarded, set_error
from dialogs.record.extracts.getters import extract_requests, extracts
from dialogs.record.extracts.states import Extracts
from services.core.errors import DomainError, SessionRequired
from services.record.extracts import (
    KIND_LABELS,
    ExtractFailed,
    ExtractOrder,
    Period,
    check_period,
    last_year,
    parse_day,
    today_msk,
)

log = logging.getLogger(__name__)

ORDER_KEYS = ("kind", "period_from", "period_to", "stay_id", "stay_label", "email")
RESULT_KEYS = ("emailed_to", "email_failed")
CAPTION = "Документ подписан электронной подписью медицинской организации."


async def _send_file(callback: CallbackQuery, manager: DialogManager, document_id: int) -> None:
    user = await principal(manager)

    async def send() -> None:
        file = await extracts(manager).run(lambda s: s.document_file(user, document_id))
        assert callback.bot is not None
        await callback.bot.send_document(
            chat_id(manager),
            BufferedInputFile(file.data, filename=file.file_name),
            protect_content=True,
        )

    if await guarded(manager, send):
        # The file is below the window now: show the window again under it.
        manager.show_mode = ShowMode.SEND


# -- the list and one document -----------------------------------------------------------


async def on_document(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():  # a stale or forged button
        return
    clear_error(manager)
    manager.dialog_data["document_id"] = int(item_id)
    await manager.switch_to(Extracts.document)


def _turn(key: str, step: int) -> Any:
    async def handler(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
        clear_error(manager)
        manager.dialog_data[key] = max(0, int(manager.dialog_data.get(key, 0)) + step)

    return handler


on_previous = _turn("page", -1)
on_next = _turn("page", 1)
on_history_previous = _turn("history_page", -1)
on_history_next = _turn("history_page", 1)


async def on_download(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    document_id = manager.dialog_data.get("document_id")
    if document_id is not None:
        await _send_file(callback, manager, int(document_id))


async def on_history_download(
    callback: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    if item_id.isdigit():
        await _send_file(callback, manager, int(item_id))


async def on_history(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["history_page"] = 0
    await manager.switch_to(Extracts.history)


async def on_to_list(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    for key in (*ORDER_KEYS, *RESULT_KEYS):
        manager.dialog_data.pop(key, None)
    await manager.switch_to(Extracts.main)


# -- «Запросить выписку» ---------------------------------------------------------------


async def on_request(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    for key in (*ORDER_KEYS, *RESULT_KEYS):
        manager.dialog_data.pop(key, None)
    await manager.switch_to(Extracts.kind)


async def on_kind(_c: CallbackQuery, _w: Any, manager: DialogManager, kind: str) -> None:
    if kind not in KIND_LABELS:
        return
    clear_error(manager)
    data = manager.dialog_data
    if data.get("kind") != kind:
        for key in ORDER_KEYS:
            data.pop(key, None)
    data["kind"] = kind
    await manager.switch_to(Extracts.stay if kind == "discharge" else Extracts.period)


def _set_period(manager: DialogManager, period: Period) -> None:
    data = manager.dialog_data
    data["period_from"] = period.start.isoformat() if period.start else None
    data["period_to"] = period.end.isoformat()


async def on_last_year(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    _set_period(manager, last_year(today_msk(ctx(manager))))
    await manager.switch_to(Extracts.confirm)


async def on_all_time(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    _set_period(manager, Period(None, today_msk(ctx(manager))))
    await manager.switch_to(Extracts.confirm)


async def on_period_start(_m: Message, manager: DialogManager, text: str) -> None:
    start = parse_day(text)
    today = today_msk(ctx(manager))
    check_period(start, today, today)
    manager.dialog_data["period_from"] = start.isoformat()
    manager.dialog_data.pop("period_to", None)
    await manager.switch_to(Extracts.period_end)


async def on_period_end(_m: Message, manager: DialogManager, text: str) -> None:
    start_text = manager.dialog_data.get("period_from")
    if not start_text:
        await manager.switch_to(Extracts.period)
        return
    end = parse_day(text)
    period = check_period(date.fromisoformat(start_text), end, today_msk(ctx(manager)))
    _set_period(manager, period)
    await manager.switch_to(Extracts.confirm)


async def on_stay(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    labels: dict[str, str] = manager.dialog_data.get("stay_labels", {})
    if item_id not in labels:  # a stale or forged button
        return
    clear_error(manager)
    manager.dialog_data["stay_id"] = int(item_id)
    manager.dialog_data["stay_label"] = labels[item_id]
    await manager.switch_to(Extracts.confirm)


async def on_confirm_back(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    kind = manager.dialog_data.get("kind")
    await manager.switch_to(Extracts.stay if kind == "discharge" else Extracts.period)


async def on_email_toggle(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["email"] = not manager.dialog_data.get("email")


def _order(data: dict[str, Any]) -> ExtractOrder | None:
    kind = data.get("kind")
    try:
        if kind == "discharge" and data.get("stay_id") is not None:
            return ExtractOrder(kind, hospitalisation_id=int(data["stay_id"]))
        if kind in KIND_LABELS and data.get("period_to"):
            start = data.get("period_from")
            period = Period(
                date.fromisoformat(start) if start else None, date.fromisoformat(data["period_to"])
            )
            return ExtractOrder(str(kind), period=period)
    except (TypeError, ValueError):
        return None
    return None


async def on_confirm(callback: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """Build, sign and send the extract; a failure shows the apology with «ещё раз»."""
    clear_error(manager)
    order = _order(manager.dialog_data)
    if order is None:  # the conversation lost its choices (a stale window)
        await manager.switch_to(Extracts.kind)
        return
    user = await principal(manager)
    email = bool(manager.dialog_data.get("email"))
    try:
        result = await extract_requests(manager).request(user, order, email=email)
    except ExtractFailed:
        await manager.switch_to(Extracts.failed)
        return
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return
    assert callback.bot is not None
    await callback.bot.send_document(
        chat_id(manager),
        BufferedInputFile(result.data, filename=result.file_name),
        caption=CAPTION,
        protect_content=True,
    )
    manager.dialog_data["emailed_to"] = result.emailed_to
    manager.dialog_data["email_failed"] = result.email_failed
    await manager.switch_to(Extracts.done, show_mode=ShowMode.SEND)
