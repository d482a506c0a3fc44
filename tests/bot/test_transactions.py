"""The transaction rule, as the running bot keeps it.

No database connection is held while the bot talks to Telegram (a Bot API call,
a file download), and one step of the application form costs few statements:
the account and the session are read once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from services.demo import PETROV_APPLICATION
from tests.support.application_flow import field, fill_form, signed_in, upload
from tests.support.bot import PETROV_PHONE, App, png_bytes


def _engine(app: App) -> Any:
    assert app.runtime is not None
    return app.runtime.engine.sync_engine


@contextmanager
def connections_at_bot_api_calls(app: App) -> Iterator[list[tuple[str, int]]]:
    """Record, for every Bot API request, how many DB connections are checked out."""
    assert app.bot is not None
    session = app.bot.session
    real = session.make_request
    seen: list[tuple[str, int]] = []
    pool = _engine(app).pool

    async def make_request(bot: Any, method: Any, timeout: Any = None) -> Any:  # noqa: ASYNC109
        seen.append((type(method).__name__, pool.checkedout()))
        return await real(bot, method, timeout)

    session.make_request = make_request  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        session.make_request = real  # type: ignore[method-assign]


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = _engine(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_no_connection_is_held_while_the_bot_talks_to_telegram(app: App) -> None:
    user = await signed_in(app, PETROV_PHONE)
    with connections_at_bot_api_calls(app) as calls:
        await user.press("Заявление на ЭМК")
        assert field("full_name").label in user.last.text
        await user.send("Петров Сергей Иванович")
        await user.send("14.07.1985")
        await user.press("Назад")
        await user.press("В меню")
    assert calls, "the bot made no Bot API call"
    assert [c for c in calls if c[1]] == []


async def test_no_connection_is_held_while_a_document_is_downloaded(app: App) -> None:
    user = await signed_in(app, PETROV_PHONE)
    await user.press("Заявление на ЭМК")
    await fill_form(user, PETROV_APPLICATION)
    with connections_at_bot_api_calls(app) as calls:
        await user.press("Документы")
        await upload(user, "Паспорт", png_bytes(color="navy"), "паспорт.png")
        assert "принят" in user.last.text, user.last.text
    names = [name for name, _ in calls]
    assert "GetFile" in names, names
    assert [c for c in calls if c[1]] == []


async def test_a_form_step_reads_the_account_and_the_session_once(app: App) -> None:
    user = await signed_in(app, PETROV_PHONE)
    await user.press("Заявление на ЭМК")
    await user.send("Петров Сергей Иванович")
    assert field("birth_date").label in user.last.text
    with statements(app) as seen:
        await user.send("14.07.1985")
    assert field("sex").label in user.last.text
    app_statements = [s for s in seen if "fsm_records" not in s]
    session_reads = [
        s for s in app_statements if s.lstrip().startswith("SELECT") and "FROM auth_sessions" in s
    ]
    account_reads = [
        s for s in app_statements if s.lstrip().startswith("SELECT") and "FROM accounts" in s
    ]
    application_reads = [
        s for s in app_statements if s.lstrip().startswith("SELECT") and "FROM applications" in s
    ]
    assert len(session_reads) == 1, session_reads
    assert len(account_reads) <= 1, account_reads
    # The answer's use case reads the draft; the next question shows what it returned.
    assert len(application_reads) == 1, application_reads
    fsm = [s for s in seen if "fsm_records" in s]
    fsm_reads = [s for s in fsm if s.lstrip().startswith("SELECT")]
    assert len(fsm_reads) == 1, fsm_reads
