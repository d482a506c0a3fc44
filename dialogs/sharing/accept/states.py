from aiogram.fsm.state import State, StatesGroup


class AcceptInvitation(StatesGroup):
    """The relative's side of an invitation: start data ``{"token": …}`` from ``/start inv_…``."""

    intro = State()
    phone = State()
    code = State()
    consent = State()
    done = State()
    closed = State()
