from aiogram.fsm.state import State, StatesGroup


class RelativeCards(StatesGroup):
    """«Карты близких»: the cards shared with the person (start data ``{"notice": …}``)."""

    main = State()
