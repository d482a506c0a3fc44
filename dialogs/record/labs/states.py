from aiogram.fsm.state import State, StatesGroup


class LabResults(StatesGroup):
    """«Результаты анализов». Start ``detail`` with data ``{"result_id": id}`` for one result."""

    main = State()
    detail = State()
    filter = State()
