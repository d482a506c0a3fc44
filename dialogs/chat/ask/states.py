from aiogram.fsm.state import State, StatesGroup


class AskDoctor(StatesGroup):
    """«Спросить врача»: the doctor, the question, maybe a file, «Вопрос отправлен».

    Start data (all optional): ``{"origin": "lab_result" | "visit", "origin_id": id}``
    for a question about a result or a visit, and ``{"card": id}`` on a card shared
    with the person (dialogs.core.card).
    """

    doctor = State()
    question = State()
    attach = State()
    sent = State()
