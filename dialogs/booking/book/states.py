from aiogram.fsm.state import State, StatesGroup


class BookVisit(StatesGroup):
    """«Записаться к врачу» (and «Перенести»: start ``calendar`` with ``BookStart`` data)."""

    specialty = State()
    doctor = State()
    calendar = State()
    times = State()
    confirm = State()
    done = State()
    attach = State()
    waitlist_who = State()
    waitlist_range = State()
    waitlist_done = State()
