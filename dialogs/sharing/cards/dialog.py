"""«Карты близких»: the cards shared with the person, and asking for access again."""

from operator import itemgetter
from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, LaunchMode, StartMode, Window
from aiogram_dialog.widgets.kbd import Button, Column, Select, Start
from aiogram_dialog.widgets.text import Const, Format

from dialogs.core.card import ACCESS_KEY, CARD
from dialogs.core.common import buttons_only, ctx, guarded, set_error, user_id, work
from dialogs.core.widgets import error_line
from dialogs.identity.signin.states import SignIn
from dialogs.menu.states import MainMenu
from dialogs.record.card.states import RecordCard
from dialogs.sharing.cards.states import RelativeCards
from services.core.access import CurrentUser
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.sharing.grants import SharingService

EMPTY = (
    "Вам пока не открыли доступ ни к одной медицинской карте. Когда близкий человек "
    "пригласит вас, откройте ссылку из приглашения."
)


def sharing(manager: DialogManager) -> UseCases[SharingService]:
    return UseCases(work(manager), ctx(manager), SharingService)


def _user(manager: DialogManager) -> CurrentUser | None:
    user: CurrentUser | None = manager.middleware_data.get("current_user")
    return user


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
    return {
        "notice": notice or "",
        "lines": "\n".join(lines) if lines else EMPTY,
        "live": [(str(c.patient_account_id), f"Карта: {c.patient}"[:60]) for c in cards if c.live],
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
