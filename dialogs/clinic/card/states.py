from aiogram.fsm.state import State, StatesGroup


class DoctorActions(StatesGroup):
    """What a doctor writes into a card opened with a step-up (start data: the card).

    ``diagnosis`` searches МКБ-10 (dialog_data["icd_query"]) for a diagnosis, or for the
    conclusion's diagnosis when dialog_data["for"] is «conclusion»; ``resolve`` lists
    the active diagnoses; ``rx_*`` ask a prescription's name, dose, how to take it and
    the course; ``note`` a plan or anamnesis (dialog_data["note_kind"]); ``referral``
    and ``referral_reason`` a referral; ``findings`` … ``conclusion_confirm`` the
    conclusion; ``recipient`` … ``send_note`` an extract to a colleague; ``done`` says
    what was written (dialog_data["result"]).
    """

    main = State()
    diagnosis = State()
    resolve = State()
    rx_name = State()
    rx_dose = State()
    rx_how = State()
    rx_days = State()
    note = State()
    referral = State()
    referral_reason = State()
    findings = State()
    recommendations = State()
    follow_up = State()
    conclusion_confirm = State()
    recipient = State()
    content = State()
    send_note = State()
    done = State()
