"""A bare aiogram-dialog dialog: a few Windows with a TextInput each, nothing else.

No services, no database besides the FSM storage it is given. Each window has
the same kind of keyboard as the application's form (so a step makes the same
Bot API calls: the old message loses its keyboard, the next question is sent);
the last window leads back to the first, so a person can answer any number of
questions.
"""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher, Router
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.widgets.input import ManagedTextInput, TextInput
from aiogram_dialog.widgets.kbd import Back, Cancel, Row
from aiogram_dialog.widgets.text import Const, Format

from bench.driven import Person, expect
from bench.latency import delayed_bot
from tgsandbox import Sandbox, SandboxUser


class BareForm(StatesGroup):
    q1 = State()
    q2 = State()
    q3 = State()
    q4 = State()


QUESTIONS = (BareForm.q1, BareForm.q2, BareForm.q3, BareForm.q4)


def question_text(number: int) -> str:
    return f"Вопрос {number} из {len(QUESTIONS)}"


async def _answered(
    _message: Message, _widget: ManagedTextInput[str], manager: DialogManager, _text: str
) -> None:
    current = manager.current_context().state
    index = QUESTIONS.index(current)
    await manager.switch_to(QUESTIONS[(index + 1) % len(QUESTIONS)])


async def _getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    index = QUESTIONS.index(dialog_manager.current_context().state)
    return {"title": question_text(index + 1)}


def build_dialog() -> Dialog:
    windows = []
    for index, state in enumerate(QUESTIONS):
        buttons = [Back(Const("Назад"))] if index else []
        windows.append(
            Window(
                Format("{title}\n"),
                Const("Напишите ответ сообщением."),
                TextInput(id=f"answer{index + 1}", on_success=_answered),
                Row(*buttons, Cancel(Const("В меню"))),
                state=state,
                getter=_getter,
            )
        )
    return Dialog(*windows)


async def _start(_message: Message, dialog_manager: DialogManager) -> None:
    await dialog_manager.start(BareForm.q1, mode=StartMode.RESET_STACK)


def build_dispatcher(storage: BaseStorage) -> Dispatcher:
    dp = Dispatcher(storage=storage, events_isolation=SimpleEventIsolation())
    router = Router(name="bare")
    router.message.register(_start, CommandStart())
    dp.include_router(router)
    dp.include_router(build_dialog())
    setup_dialogs(dp)
    return dp


class BareApp:
    """The bare dialog over `storage`, attached to a sandbox of its own."""

    def __init__(self, storage: BaseStorage) -> None:
        self.dispatcher = build_dispatcher(storage)
        self.sandbox = Sandbox()
        self.bot, self.session = delayed_bot(self.sandbox)

    async def start(self) -> None:
        self.sandbox.attach(self.dispatcher, self.bot)
        await self.dispatcher.emit_startup(bot=self.bot)

    async def stop(self) -> None:
        await self.dispatcher.emit_shutdown(bot=self.bot)
        self.sandbox.detach()
        # The storage belongs to the application's runtime, which closes it.

    def user(self, person: Person) -> SandboxUser:
        return self.sandbox.user(user_id=person.telegram_id, first_name=person.first_name)

    async def open(self, user: SandboxUser) -> None:
        await user.send("/start")
        expect(user, question_text(1))
