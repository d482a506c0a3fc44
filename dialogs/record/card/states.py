from aiogram.fsm.state import State, StatesGroup


class RecordCard(StatesGroup):
    """«Моя медкарта»: the list of sections and what is in each.

    ``section`` shows a page of dialog_data["section"] (dialog_data["page"]),
    ``entry`` one entry of it (dialog_data["entry_id"]); ``add_*`` are the
    steps of «Добавить документ» in «Мои документы».
    """

    main = State()
    profile = State()
    section = State()
    entry = State()
    add_kind = State()
    add_title = State()
    add_date = State()
    add_file = State()
