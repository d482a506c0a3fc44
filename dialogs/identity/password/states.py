from aiogram.fsm.state import State, StatesGroup


class ChangePassword(StatesGroup):
    current = State()
    new = State()
    done = State()
