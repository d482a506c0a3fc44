from aiogram.fsm.state import State, StatesGroup


class Recovery(StatesGroup):
    start = State()
    login = State()
    new_password = State()
    done = State()
    code = State()
