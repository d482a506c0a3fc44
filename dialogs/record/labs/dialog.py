"""«Результаты анализов»: the list (six a page, a filter by test), one result, «Динамика»."""

from operator import itemgetter
from typing import Any

from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button, Cancel, Column, Row, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.card import card_header, home_button, on_own
from dialogs.core.common import buttons_only
from dialogs.core.widgets import BACK, back_button, error_line, nav_row, switch_button
from dialogs.record.labs import handlers
from dialogs.record.labs.getters import detail_getter, filter_getter, list_getter
from dialogs.record.labs.states import LabResults

FILTER = "Фильтр по анализу"
ALL_TESTS = "Все анализы"
DOWNLOAD = "Скачать файл"
TO_LIST = "К списку результатов"
ASK = "Спросить врача"


def _can_ask(data: dict[str, Any], widget: Any, manager: DialogManager) -> bool:
    """«Спросить врача» about the result: on one's own card (a relative asks from
    «Карты близких»), once the result is shown."""
    return bool(data.get("text")) and on_own(data, widget, manager)


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            card_header,
            Const("Результаты анализов (новые сверху)\n"),
            Format("{filter_line}\n", when="filter_line"),
            Format("{lines}"),
            Format("\n{page_line}", when="page_line"),
            Column(
                Select(
                    Format("{item[1]}"),
                    id="result",
                    item_id_getter=itemgetter(0),
                    items="items",
                    on_click=handlers.on_open,
                )
            ),
            Row(
                Button(
                    Const("‹"), id="previous", on_click=handlers.on_previous, when="has_previous"
                ),
                Button(Const("›"), id="next", on_click=handlers.on_next, when="has_next"),
            ),
            switch_button(FILTER, id="filter", state=LabResults.filter, when="can_filter"),
            nav_row(
                Cancel(Const(BACK), id="back", when="has_parent"),
                home_button(),
            ),
            error_line,
            buttons_only(),
            state=LabResults.main,
            getter=list_getter,
        ),
        Window(
            card_header,
            Const("Фильтр по анализу: выберите, результаты какого анализа показать."),
            Column(
                Select(
                    Format("{item[1]}"),
                    id="test",
                    item_id_getter=itemgetter(0),
                    items="tests",
                    on_click=handlers.on_test,
                )
            ),
            Button(Const(ALL_TESTS), id="all_tests", on_click=handlers.on_all_tests),
            back_button(state=LabResults.main),
            error_line,
            buttons_only(),
            state=LabResults.filter,
            getter=filter_getter,
        ),
        Window(
            card_header,
            Format("{text}", when="text"),
            Button(
                Const(DOWNLOAD), id="download", on_click=handlers.on_download, when="can_download"
            ),
            Column(
                Select(
                    Format("{item[1]}"),
                    id="trend",
                    item_id_getter=itemgetter(0),
                    items="trends",
                    on_click=handlers.on_trend,
                )
            ),
            Button(Const(ASK), id="ask", on_click=handlers.on_ask, when=_can_ask),
            nav_row(
                Button(Const(TO_LIST), id="to_list", on_click=handlers.on_to_list),
                home_button(),
            ),
            error_line,
            buttons_only(),
            state=LabResults.detail,
            getter=detail_getter,
        ),
    )
