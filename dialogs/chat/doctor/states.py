from aiogram.fsm.state import State, StatesGroup


class PatientQuestions(StatesGroup):
    """The doctor's «Вопросы пациентов»: the list, a thread, the answer and its file.

    Start data: ``{"staff_id": id}`` (the cabinet), ``{"thread_id": id}`` (a push's
    «Открыть»: ``thread``).
    """

    main = State()
    thread = State()
    answer = State()
    attach = State()
