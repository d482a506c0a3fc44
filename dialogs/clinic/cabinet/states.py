from aiogram.fsm.state import State, StatesGroup


class DoctorCabinet(StatesGroup):
    """«Кабинет врача»: the doctor's organisation, «Пациенты», opening a card.

    ``patients`` shows a page (dialog_data["page"]) of the search
    (dialog_data["query"]); ``purpose`` and ``code`` are the step-up for the
    patient chosen (dialog_data["patient"]); ``pending`` is an org-admin's list
    of doctors waiting for confirmation.
    """

    main = State()
    patients = State()
    purpose = State()
    code = State()
    pending = State()
