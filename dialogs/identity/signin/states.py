from aiogram.fsm.state import State, StatesGroup


class SignIn(StatesGroup):
    welcome = State()
    login = State()
    password = State()
    phone = State()
    factor = State()
    locked = State()
    # Staff only: the authenticator app enrolled, an expired password changed.
    enrol = State()
    new_password = State()
