"""The month calendar of «Записаться к врачу»: aiogram-dialog's `Calendar`, in Russian.

Monday first, Russian month and weekday names; a day with no free time is marked
«✗» (and refused when pressed, by the window's handler); months page only within
the booking horizon (the window getter's ``min_date`` and ``max_date``). «Today»
is the application's clock, not the machine's, so nothing here asks the widget
for its own idea of today. Every button carries callback data (Telegram refuses a
button without one): the week days, the header and the blank cells answer nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiogram.types import CallbackQuery, InlineKeyboardButton
from aiogram_dialog import DialogManager
from aiogram_dialog.api.protocols import DialogProtocol
from aiogram_dialog.widgets.kbd import Calendar
from aiogram_dialog.widgets.kbd.calendar_kbd import (
    CALLBACK_NEXT_MONTH,
    CALLBACK_PREV_MONTH,
    CalendarConfig,
    CalendarDaysView,
    CalendarScope,
    CalendarScopeView,
    CalendarUserConfig,
    month_begin,
    next_month_begin,
    raw_from_date,
)
from aiogram_dialog.widgets.text import Text

__all__ = ["MONTHS", "NO_TIME_MARK", "WEEKDAYS", "BookingCalendar", "day_label"]

MONTHS = (
    "Январь",
    "Февраль",
    "Март",
    "Апрель",
    "Май",
    "Июнь",
    "Июль",
    "Август",
    "Сентябрь",
    "Октябрь",
    "Ноябрь",
    "Декабрь",
)
WEEKDAYS = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
NO_TIME_MARK = "✗"
# Callback data of the buttons that do nothing (week days, header, blank cells).
NOOP = "_"


def day_label(day: date, free: bool) -> str:
    """«27» for a day with free time, «27✗» for one without."""
    return str(day.day) if free else f"{day.day}{NO_TIME_MARK}"


class _DayText(Text):
    """A day of the month, marked when the getter's ``free_days`` (ISO dates) lacks it."""

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        day: date = data["date"]
        free = day.isoformat() in data["data"].get("free_days", ())
        return day_label(day, free)


def _noop(generator: Any, text: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=generator(NOOP))


class _RussianDaysView(CalendarDaysView):
    """One month: «Ноябрь 2026», «Пн … Вс», the days, «‹ Октябрь» / «Декабрь ›»."""

    def __init__(self, callback_generator: Any) -> None:
        super().__init__(callback_generator, date_text=_DayText(), today_text=_DayText())

    async def render(
        self,
        config: CalendarConfig,
        offset: date,
        data: dict[str, Any],
        manager: DialogManager,
    ) -> list[list[InlineKeyboardButton]]:
        generator = self.callback_generator
        header = [_noop(generator, f"{MONTHS[offset.month - 1]} {offset.year}")]
        week = [_noop(generator, name) for name in WEEKDAYS]
        return [
            header,
            week,
            *await self._days(config, offset, data, manager),
            *self._pager(config, offset),
        ]

    async def _days(
        self,
        config: CalendarConfig,
        offset: date,
        data: dict[str, Any],
        manager: DialogManager,
    ) -> list[list[InlineKeyboardButton]]:
        first = month_begin(offset)
        last = next_month_begin(offset) - timedelta(days=1)
        start = first - timedelta(days=first.weekday())  # Monday first
        rows: list[list[InlineKeyboardButton]] = []
        day = start
        while day <= last:
            row = []
            for _ in range(7):
                shown = first <= day <= last and config.min_date <= day <= config.max_date
                if shown:
                    row.append(
                        InlineKeyboardButton(
                            text=await self.date_text.render_text(
                                {"date": day, "data": data}, manager
                            ),
                            callback_data=self.callback_generator(str(raw_from_date(day))),
                        )
                    )
                else:
                    row.append(_noop(self.callback_generator, " "))
                day += timedelta(days=1)
            # A week wholly before the first bookable day (or after the last) is not shown.
            if any(button.text != " " for button in row):
                rows.append(row)
        return rows

    def _pager(self, config: CalendarConfig, offset: date) -> list[list[InlineKeyboardButton]]:
        previous_end = month_begin(offset) - timedelta(days=1)
        following = next_month_begin(offset)
        can_back = previous_end >= config.min_date
        can_forward = following <= config.max_date
        if not can_back and not can_forward:
            return []
        generator = self.callback_generator
        back = (
            InlineKeyboardButton(
                text=f"‹ {MONTHS[previous_end.month - 1]}",
                callback_data=generator(CALLBACK_PREV_MONTH),
            )
            if can_back
            else _noop(generator, " ")
        )
        forward = (
            InlineKeyboardButton(
                text=f"{MONTHS[following.month - 1]} ›",
                callback_data=generator(CALLBACK_NEXT_MONTH),
            )
            if can_forward
            else _noop(generator, " ")
        )
        return [[back, forward]]


class BookingCalendar(Calendar):
    """aiogram-dialog's `Calendar` showing days only, within the getter's dates.

    The window getter gives ``min_date``, ``max_date`` (dates) and ``free_days``
    (ISO strings); the month shown is the widget's offset, which the getter sets
    when the window opens (the month of the earliest free day).
    """

    def _init_views(self) -> dict[CalendarScope, CalendarScopeView]:
        days = _RussianDaysView(self._item_callback_data)
        # Only the days are shown: there is no way to the months' or years' views.
        return {CalendarScope.DAYS: days, CalendarScope.MONTHS: days, CalendarScope.YEARS: days}

    def get_scope(self, manager: DialogManager) -> CalendarScope:
        return CalendarScope.DAYS

    async def _get_user_config(
        self, data: dict[str, Any], manager: DialogManager
    ) -> CalendarUserConfig:
        return CalendarUserConfig(
            firstweekday=0, min_date=data.get("min_date"), max_date=data.get("max_date")
        )

    async def _process_item_callback(
        self,
        callback: CallbackQuery,
        data: str,
        dialog: DialogProtocol,
        manager: DialogManager,
    ) -> bool:
        if data in (CALLBACK_PREV_MONTH, CALLBACK_NEXT_MONTH):
            if self.get_offset(manager) is None:
                return True
            return await super()._process_item_callback(callback, data, dialog, manager)
        if not data.isdigit():  # a week day, the header, a blank cell, or forged data
            return True
        return await super()._process_item_callback(callback, data, dialog, manager)
