"""The widgets every window shares: the error line and the buttons that leave a window.

One definition of each, so «Назад», «В меню» and «Отмена» look and behave the same
in every flow. They are aiogram-dialog's own buttons where one fits:

* «Назад» — `SwitchTo` a given window, `Back` to the previous state of the group,
  or a `Button` with a handler of the flow's own (the form's previous question);
* «В меню» — `Start` of the main menu with a fresh stack (the menu dialog is also
  `LaunchMode.ROOT`, so any start of it resets the stack);
* «Отмена» — `Cancel`: the dialog ends with `result` for its parent.

Leaving a window by «Назад» (or any `SwitchTo` made here) clears its error line:
an error belongs to the answer given in that window and must not come back with it.
Button ids stay what the windows had, so stored widget data keeps its meaning.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from aiogram.fsm.state import State
from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager, StartMode
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.kbd import (
    Back,
    Button,
    Cancel,
    Column,
    Group,
    Keyboard,
    Row,
    Select,
    Start,
    SwitchTo,
)
from aiogram_dialog.widgets.kbd.button import OnClick
from aiogram_dialog.widgets.kbd.select import OnItemClick
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import clear_error, current_error
from dialogs.menu.states import MainMenu

__all__ = [
    "BACK",
    "CANCEL",
    "TO_MENU",
    "back_button",
    "cancel_button",
    "choice_list",
    "error_line",
    "menu_button",
    "nav_row",
    "switch_button",
]

BACK = "Назад"
TO_MENU = "В меню"
CANCEL = "Отмена"


def _error_shown(_data: dict[str, Any], _widget: Any, manager: DialogManager) -> bool:
    return current_error(manager) is not None


# Under the question when the last answer in this window was not accepted (`set_error`).
error_line = Format("\n⚠️ {dialog_data[error]}", when=_error_shown)


async def _leave_window(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)


def switch_button(text: str, *, id: str, state: State, when: WhenCondition = None) -> SwitchTo:
    """To another window of the same dialog, leaving this window's error behind."""
    return SwitchTo(Const(text), id=id, state=state, on_click=_leave_window, when=when)


def back_button(
    *,
    id: str = "back",
    state: State | None = None,
    on_click: OnClick | None = None,
    text: str = BACK,
    when: WhenCondition = None,
) -> Keyboard:
    """«Назад»: to `state`; with `on_click`, whatever it does; else the previous state.

    Without either, aiogram-dialog's `Back` goes to the state before this one in
    the order of the StatesGroup.
    """
    if on_click is not None:
        return Button(Const(text), id=id, on_click=on_click, when=when)
    if state is not None:
        return switch_button(text, id=id, state=state, when=when)
    return Back(Const(text), id=id, on_click=_leave_window, when=when)


def menu_button(*, id: str = "to_menu", text: str = TO_MENU, when: WhenCondition = None) -> Start:
    """«В меню»: the main menu, with nothing left on the stack under it.

    Whatever was being filled in is in the database already (the draft), so the
    flow continues from there when it is opened again.
    """
    return Start(Const(text), id=id, state=MainMenu.main, mode=StartMode.RESET_STACK, when=when)


def cancel_button(
    *,
    id: str = "cancel",
    text: str = CANCEL,
    result: Any = None,
    when: WhenCondition = None,
) -> Cancel:
    """«Отмена»: close this dialog; its parent's `on_process_result` gets `result`.

    `result` is what the dialog's contract says a cancel returns (e.g.
    ``CodeResult(confirmed=False).to_data()``); plain data, like every result.
    """
    return Cancel(Const(text), id=id, result=result, when=when)


def nav_row(*buttons: Keyboard, when: WhenCondition = None) -> Row:
    """The navigation buttons of a window side by side (e.g. «Назад» and «В меню»)."""
    return Row(*buttons, when=when)


def choice_list(
    id: str,
    on_click: OnItemClick[Any, Any],
    *,
    items: str = "items",
    width: int = 1,
    when: WhenCondition = None,
) -> Keyboard:
    """A button for each (id, label) pair of the getter's `items`, `width` to a row."""
    select: Select[str] = Select(
        Format("{item[1]}"), id=id, item_id_getter=itemgetter(0), items=items, on_click=on_click
    )
    if width == 1:
        return Column(select, when=when)
    return Group(select, width=width, when=when)
