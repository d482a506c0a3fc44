from aiogram.fsm.state import State, StatesGroup


class Otp(StatesGroup):
    code = State()
