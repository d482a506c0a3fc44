from aiogram.fsm.state import State, StatesGroup


class ColleagueInboxStates(StatesGroup):
    """«Входящие выписки» of the doctor (start data: {"staff": <staff id>}): ``main`` a
    page (dialog_data["page"]), ``item`` one extract (dialog_data["extract"])."""

    main = State()
    item = State()
