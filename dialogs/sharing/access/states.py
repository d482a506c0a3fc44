from aiogram.fsm.state import State, StatesGroup


class RelativesAccess(StatesGroup):
    """«Доступ для близких»: the grants, one grant and its changes, the invitation wizard."""

    main = State()
    grant = State()
    level = State()
    extend = State()
    revoke = State()
    invite_name = State()
    invite_phone = State()
    invite_relationship = State()
    invite_level = State()
    invite_term = State()
    invite_until = State()
    invite_sensitive = State()
    invite_review = State()
    invite_done = State()
