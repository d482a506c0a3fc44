from aiogram.enums import ContentType
from aiogram_dialog import Dialog, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Column, Select
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.common import buttons_only
from dialogs.core.widgets import back_button, cancel_button, error_line
from dialogs.enrolment.documents import handlers
from dialogs.enrolment.documents.getters import RULES, slots_getter, upload_getter
from dialogs.enrolment.documents.states import ApplicationDocuments


def _slot_id(item: tuple[str, str]) -> str:
    return item[0]


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{result}\n", when="result"),
            Const("Документы к заявлению на ЭМК\n"),
            Format("{lines}\n"),
            Const(
                f"Паспорт, полис ОМС и СНИЛС обязательны. {RULES}\n"
                "Выберите документ, чтобы загрузить или заменить его."
            ),
            error_line,
            Column(
                Select(
                    Format("{item[1]}"),
                    id="slot",
                    item_id_getter=_slot_id,
                    items="slots",
                    on_click=handlers.on_slot,
                )
            ),
            cancel_button(id="done", text="Готово"),
            buttons_only(),
            state=ApplicationDocuments.slots,
            getter=slots_getter,
        ),
        Window(
            Format("{label}\n"),
            Const(f"Пришлите документ файлом или фотографией. {RULES}"),
            Format("\nСейчас загружен файл {current}. Новый файл заменит его.", when="filled"),
            error_line,
            MessageInput(handlers.on_file, content_types=[ContentType.DOCUMENT, ContentType.PHOTO]),
            MessageInput(handlers.on_not_file),
            Button(
                Const("Удалить документ"), id="remove", on_click=handlers.on_remove, when="filled"
            ),
            back_button(
                id="to_slots", text="К списку документов", state=ApplicationDocuments.slots
            ),
            state=ApplicationDocuments.upload,
            getter=upload_getter,
        ),
    )
