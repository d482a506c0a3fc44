from aiogram.fsm.state import State, StatesGroup


class RecordCard(StatesGroup):
    """«Моя медкарта»: the list of sections and what is in each."""

    main = State()
