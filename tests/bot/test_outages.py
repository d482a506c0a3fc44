"""When the database or the conversation storage is down, the person is told so."""

from __future__ import annotations

from pathlib import Path

from storage.db import create_engine, create_session_factory
from tests.support.bot import ANNA_PHONE, App


async def test_database_outage_gets_a_russian_answer_and_recovers(app: App, tmp_path: Path) -> None:
    assert app.runtime is not None
    anna = app.user()
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    factory = app.runtime.uow_factory
    healthy = factory.session_factory
    # the database goes away: its path is now a directory, which cannot be opened
    gone = tmp_path / "gone"
    gone.mkdir()
    broken = create_engine(f"sqlite+aiosqlite:///{gone}")
    factory.session_factory = create_session_factory(broken)
    try:
        typed = await anna.send(ANNA_PHONE)
        assert anna.last.text == (
            "Сервис временно недоступен. Ваше сообщение удалено из чата, чтобы в нём не "
            "остались личные данные. Пожалуйста, повторите через несколько минут."
        )
        # what was typed (it could have been a password) is not left in the chat
        assert all(m.message_id != typed.message_id for m in anna.messages)
    finally:
        factory.session_factory = healthy
        await broken.dispose()
    # the failure was logged for the operators, by update id, without the person's data
    assert app.errors and all(ANNA_PHONE not in r.getMessage() for r in app.errors)
    app.errors.clear()
    # back up: the conversation goes on where it was
    await anna.send(ANNA_PHONE)
    assert "Введите пароль" in anna.last.text
