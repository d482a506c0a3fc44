from aiogram.fsm.state import State, StatesGroup


class MyVisits(StatesGroup):
    """«Мои записи». Start ``visit`` with ``VisitsStart`` data for one visit (a push)."""

    main = State()
    visit = State()
    cancel = State()
    cancelled = State()
    attach = State()
    past = State()
    waitlist = State()
