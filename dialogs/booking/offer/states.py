from aiogram.fsm.state import State, StatesGroup


class WaitlistOffer(StatesGroup):
    """The waitlist's offer of a freed time; start ``main`` with ``OfferStart`` data."""

    main = State()
    done = State()
