from aiogram.fsm.state import State, StatesGroup


class ApplicationStatus(StatesGroup):
    main = State()
