"""At LOG_LEVEL=DEBUG the log holds no personal value of anyone's.

Petrov's whole journey — sign-in, the form, three documents, the code, the
submission and the processing — runs with logging set up as ``python -m bot``
sets it up (``configure_logging``), and the log is searched for every value he
typed, as typed and as the bot stores it.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from bot.cli import configure_logging
from services.demo import PETROV_APPLICATION
from tests.support.application_flow import apply, signed_in
from tests.support.bot import PASSWORD, PETROV_PHONE, App

P = PETROV_APPLICATION
# Each value as typed and as stored (normalised), and the ways it is shown.
TYPED_AND_STORED = {
    "password": [PASSWORD],
    "phone": [PETROV_PHONE, PETROV_PHONE[1:], "+7 999 000-00-02", "9990000002"],
    "full_name": [P["full_name"], "Петров", "Иванович"],
    "birth_date": [P["birth_date"], "1985-07-14"],
    "snils": [P["snils"], "15623648877"],
    "policy_number": [P["policy_number"], "7750198340271955"],
    "policy_end": [P["policy_end"], "2045-12-31"],
    "passport_series": [P["passport_series"], "4505"],
    "passport_number": [P["passport_number"]],
    "passport_issue_date": [P["passport_issue_date"], "2005-07-25"],
    "passport_division_code": [P["passport_division_code"]],
    "passport_issued_by": [P["passport_issued_by"], "Хамовники"],
    "inn": [P["inn"]],
    "address": [P["address"], "Тверская"],
    "email": [P["email"], "sergey.petrov"],
    # the stored password hash
    "password_hash": ["$argon2"],
}


def _leaks(log: str) -> list[str]:
    found = []
    for name, values in TYPED_AND_STORED.items():
        for value in values:
            # digits alone must not be a part of a longer number (an id, a time)
            pattern = re.escape(value)
            if value.isdigit():
                pattern = rf"(?<!\d){pattern}(?!\d)"
            if re.search(pattern, log, flags=re.IGNORECASE):
                found.append(f"{name}: {value!r}")
    return found


@pytest.fixture
def debug_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging as `python -m bot` configures it at DEBUG; what its handler writes."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level = root.level
    output = io.StringIO()
    for handler in handlers:  # basicConfig configures a root without handlers only
        root.removeHandler(handler)
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", output)
        configure_logging("DEBUG")
    ours = list(root.handlers)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield output
    finally:
        for handler in ours:
            root.removeHandler(handler)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger) and name not in levels:
                logger.setLevel(logging.NOTSET)


async def _journey(app: App, log: io.StringIO) -> None:
    petrov = await signed_in(app, PETROV_PHONE)
    await apply(app, petrov, PETROV_APPLICATION)
    await app.process_applications()
    await app.deliver_pushes()
    assert "электронная медицинская карта открыта" in "\n".join(petrov.bot_texts())

    written = log.getvalue()
    # the log was written at DEBUG, through the whole journey
    assert " DEBUG " in written
    assert "console SMS to" in written
    assert _leaks(written) == [], written[-5000:]


async def test_petrov_applies_at_debug_and_the_log_has_none_of_his_values(
    app: App, debug_log: io.StringIO
) -> None:
    await _journey(app, debug_log)


async def test_petrov_applies_at_debug_on_postgresql_and_the_log_has_none_of_his_values(
    pg_app: App, debug_log: io.StringIO
) -> None:
    await _journey(pg_app, debug_log)
