from aiogram.fsm.state import State, StatesGroup


class ApplicationDocuments(StatesGroup):
    slots = State()  # the list of slots with what each holds
    upload = State()  # one slot (dialog_data["slot"]): send a file or a photo
