from aiogram.fsm.state import State, StatesGroup


class Extracts(StatesGroup):
    """«Выписки и заключения»: documents written by doctors, requests for signed extracts."""

    main = State()
