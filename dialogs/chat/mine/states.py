from aiogram.fsm.state import State, StatesGroup


class MyQuestions(StatesGroup):
    """«Мои вопросы»: the threads, one thread, writing again. Start ``thread`` with
    ``{"thread_id": id}`` (a push's «Открыть»), and ``{"card": id}`` on a shared card."""

    main = State()
    thread = State()
    write = State()
    attach = State()
