from aiogram.fsm.state import State, StatesGroup


class Journal(StatesGroup):
    main = State()
