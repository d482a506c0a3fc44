from aiogram.fsm.state import State, StatesGroup


class Extracts(StatesGroup):
    """«Выписки и заключения»: documents written by doctors, requests for signed extracts."""

    main = State()
    document = State()
    kind = State()
    period = State()
    period_end = State()
    stay = State()
    confirm = State()
    done = State()
    failed = State()
    history = State()
