from aiogram.fsm.state import State, StatesGroup


class SignIn(StatesGroup):
    welcome = State()
    login = State()
    password = State()
    phone = State()
    factor = State()
    locked = State()
