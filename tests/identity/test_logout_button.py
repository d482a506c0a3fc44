"""«Выйти» in the main menu: answered at once, however long signing out takes."""

from __future__ import annotations

import time

import pytest

from services.identity.auth import AuthService
from tests.support.bot import App

# Telegram refuses to answer a button press after about 15 seconds.
CALLBACK_TIMEOUT = 15.0


async def test_logout_when_signing_out_is_slow_still_says_you_signed_out(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = app.user()
    await app.sign_in(anna)
    # A sandbox clock that the slow sign-out moves on past Telegram's deadline.
    offset = [0.0]
    monkeypatch.setattr(app.sandbox, "clock", lambda: time.monotonic() + offset[0])
    app.sandbox.callback_query_timeout = CALLBACK_TIMEOUT
    real_logout = AuthService.logout

    async def slow_logout(self: AuthService, tg_user: int) -> bool:
        offset[0] += CALLBACK_TIMEOUT * 2
        return await real_logout(self, tg_user)

    monkeypatch.setattr(AuthService, "logout", slow_logout)

    await anna.press("Выйти")

    assert anna.last.text.startswith("Вы вышли из учётной записи.")
    assert "Войти через Госуслуги" in anna.last.buttons
    await anna.send("/menu")
    assert "Введите логин" in anna.last.text
