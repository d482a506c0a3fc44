"""«Карты близких»: the cards shared with the person, and asking for access again."""

from operator import itemgetter
from typing import Any

from aiogram.fsm.state import State
from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, LaunchMode, StartMode, Window
from aiogram_dialog.widgets.kbd import Button, Column, Select, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.booking.book.states import BookVisit
from dialogs.booking.visits.states import MyVisits
from dialogs.chat.mine.states import MyQuestions
from dialogs.core.card import ACCESS_KEY, CARD
from dialogs.core.common import buttons_only, ctx, guarded, set_error, user_id, work
from dialogs.core.widgets import error_line
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from dialogs.record.card.states import RecordCard
from dialogs.sharing.cards.states import RelativeCards
from services.core.access import LEVEL_PERMISSIONS, LEVEL_REASONS, CurrentUser, Permission
from services.core.errors import AccessDenied, DomainError, SessionRequired
from services.core.work import UseCases
from services.sharing.grants import CardLine, SharingService

EMPTY = (
    "Вам пока не открыли доступ ни к одной медицинской карте. Когда близкий человек "
    "пригласит вас, откройте ссылку из приглашения."
)


def level_permits(level: str) -> frozenset[Permission]:
    return LEVEL_PERMISSIONS.get(level, frozenset())


def sharing(manager: DialogManager) -> UseCases[SharingService]:
    return UseCases(work(manager), ctx(manager), SharingService)


def _user(manager: DialogManager) -> CurrentUser | None:
    user: CurrentUser | None = manager.middleware_data.get("current_user")
    return user


def _buttons(cards: list[CardLine], label: str) -> list[tuple[str, str]]:
    return [(str(c.patient_account_id), f"{label}: {c.patient}"[:60]) for c in cards]


async def _getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = _user(dialog_manager)
    try:
        cards = await sharing(dialog_manager).run(lambda s: s.cards(user_id(dialog_manager), user))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        cards = []
    start = dialog_manager.start_data
    notice = start.get("notice") if isinstance(start, dict) else None
    notice = notice if notice and not dialog_manager.dialog_data.get("notice_seen") else None
    lines = [f"• {c.patient} — {c.level_text}, {c.state_text}" for c in cards]
    # Visits are there only with «полный доступ» (the access rule decides again on the press).
    booking = [c for c in cards if c.live and Permission.MANAGE_VISITS in level_permits(c.level)]
    return {
        "notice": notice or "",
        "lines": "\n".join(lines) if lines else EMPTY,
        "live": [(str(c.patient_account_id), f"Карта: {c.patient}"[:60]) for c in cards if c.live],
        "book": _buttons(booking, "Записать к врачу"),
        "visits": _buttons(booking, "Записи на приём"),
        "questions": _buttons(booking, "Вопросы врачу"),
        "closed": [
            (str(c.grant_id), f"Запросить доступ снова: {c.patient}"[:60])
            for c in cards
            if c.can_request
        ],
        "signed_in": user is not None,
        "signed_out": user is None,
    }


async def on_card(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    manager.dialog_data["notice_seen"] = True
    patient = int(item_id)
    user = _user(manager)
    tg = user_id(manager)
    opened: dict[str, Any] = {}

    async def open_card() -> None:
        opened["access"] = await sharing(manager).run(lambda s: s.open_card(tg, user, patient))

    if await guarded(manager, open_card):
        manager.middleware_data[ACCESS_KEY] = opened["access"]
        await manager.start(RecordCard.main, data={CARD: patient})


def _visits_on_card(state: State) -> Any:
    """Booking or the visits of a card: started once the level allows managing visits."""

    async def on_click(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
        if not item_id.isdigit():
            return
        manager.dialog_data["notice_seen"] = True
        patient = int(item_id)
        user = _user(manager)
        tg = user_id(manager)

        async def check() -> None:
            access = await sharing(manager).run(lambda s: s.card_access(tg, user, patient))
            if not access.can_book:
                raise AccessDenied(LEVEL_REASONS[Permission.MANAGE_VISITS])
            manager.middleware_data[ACCESS_KEY] = access

        if await guarded(manager, check):
            await manager.start(state, data={CARD: patient})

    return on_click


on_book = _visits_on_card(BookVisit.specialty)
on_visits = _visits_on_card(MyVisits.main)
# Writing to a doctor comes with the same level as visits («полный доступ»); the chat's
# service asks the access rule (MESSAGE_DOCTOR) again on every step.
on_questions = _visits_on_card(MyQuestions.main)


async def on_request(
    callback: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    if not item_id.isdigit():
        return
    manager.dialog_data["notice_seen"] = True
    user = _user(manager)
    tg = user_id(manager)

    async def request() -> None:
        text = await sharing(manager).run(lambda s: s.request_again(tg, user, int(item_id)))
        manager.dialog_data["result"] = text

    await guarded(manager, request)


async def on_sign_in(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await manager.start(SignIn.welcome, mode=StartMode.RESET_STACK)


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("⚠️ {notice}\n", when="notice"),
            Const("Карты близких\n"),
            Format("{lines}"),
            Format(
                "\n{dialog_data[result]}", when=lambda d, *_: bool(d["dialog_data"].get("result"))
            ),
            error_line,
            Column(
                Select(
                    Format("{item[1]}"),
                    id="card",
                    item_id_getter=itemgetter(0),
                    items="live",
                    on_click=on_card,
                )
            ),
            Column(
                Select(
                    Format("{item[1]}"),
                    id="book",
                    item_id_getter=itemgetter(0),
                    items="book",
                    on_click=on_book,
                ),
                Select(
                    Format("{item[1]}"),
                    id="visits",
                    item_id_getter=itemgetter(0),
                    items="visits",
                    on_click=on_visits,
                ),
                Select(
                    Format("{item[1]}"),
                    id="questions",
                    item_id_getter=itemgetter(0),
                    items="questions",
                    on_click=on_questions,
                ),
            ),
            Column(
                Select(
                    Format("{item[1]}"),
                    id="ask",
                    item_id_getter=itemgetter(0),
                    items="closed",
                    on_click=on_request,
                )
            ),
            Start(
                Const("Главное меню"),
                id="main_menu",
                state=MainMenu.main,
                mode=StartMode.RESET_STACK,
                when="signed_in",
            ),
            Button(
                Const("Войти через Госуслуги"), id="sign_in", on_click=on_sign_in, when="signed_out"
            ),
            buttons_only(),
            state=RelativeCards.main,
            getter=_getter,
        ),
        launch_mode=LaunchMode.ROOT,
    )
