from aiogram.fsm.state import State, StatesGroup


class ApplicationForm(StatesGroup):
    field = State()  # one field of FIELDS, named by dialog_data["field"]
    consent = State()  # the consent text and «Даю согласие» (the field "consent")
    review = State()  # every value, the documents, «Изменить», «Отправить»
    accepted = State()  # «Заявка принята» with the number
