"""Typed start data and results of sub-dialogs: through the storages, and when forged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram_dialog.api.entities import DEFAULT_STACK_ID, AccessSettings
from aiogram_dialog.context.storage import StorageProxy
from sqlalchemy import select

from dialogs.core.contract import JsonData
from dialogs.core.otp import handlers as otp_handlers
from dialogs.core.otp.contract import CodeRequest, CodeResult, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.enrolment.application.contract import FormStart
from dialogs.enrolment.status.contract import StatusStart
from dialogs.identity.recovery.contract import RecoveryStart
from dialogs.identity.signin import handlers as signin_handlers
from services.identity.otp import Channel, Purpose
from storage.db import create_engine, create_session_factory
from storage.fsm import SqlStorage, create_redis_isolation, create_redis_storage
from storage.models import FsmRecord
from tests.support.bot import ANNA_PHONE, PASSWORD, App
from tgsandbox import SandboxUser

REQUEST = CodeRequest(
    account_id=17,
    purpose=Purpose.APPLICATION_SUBMIT,
    channel=Channel.SMS,
    action_ref="application:5:3",
    can_use_email=True,
)

# Results that are not ``{"confirmed": true}``: none of them may confirm anything.
FORGED_RESULTS: list[Any] = [
    None,
    {},
    {"confirmed": False},
    {"confirmed": "yes"},
    {"confirmed": 1},
    {"confirmed": [True]},
    {"ok": True},
    ["confirmed", True],
    "confirmed",
    True,
    42,
]


# -- the contracts --------------------------------------------------------------------


def test_code_request_round_trips_as_plain_json() -> None:
    data = REQUEST.to_data()
    assert data == {
        "account_id": 17,
        "purpose": "application_submit",
        "channel": "sms",
        "action_ref": "application:5:3",
        "can_use_email": True,
    }
    # plain strings, not enum members: the same in memory as after json.dumps
    assert type(data["purpose"]) is str and type(data["channel"]) is str
    assert CodeRequest.from_data(data) == REQUEST
    assert CodeRequest.from_data(data).purpose is Purpose.APPLICATION_SUBMIT  # type: ignore[union-attr]


def test_code_request_as_older_versions_stored_it() -> None:
    """Stacks stored before the contract existed had the same keys (action_ref optional)."""
    old = {"account_id": 3, "purpose": "sign_in", "channel": "totp", "can_use_email": False}
    assert CodeRequest.from_data(old) == CodeRequest(3, Purpose.SIGN_IN, Channel.TOTP)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "sign_in",
        {},
        {**REQUEST.to_data(), "account_id": "17"},
        {**REQUEST.to_data(), "account_id": True},
        {**REQUEST.to_data(), "purpose": "delete_everything"},
        {**REQUEST.to_data(), "channel": "pigeon"},
        {**REQUEST.to_data(), "channel": None},
        {**REQUEST.to_data(), "action_ref": 5},
        {**REQUEST.to_data(), "can_use_email": "yes"},
    ],
)
def test_a_code_request_of_another_shape_is_none(data: Any) -> None:
    assert CodeRequest.from_data(data) is None


def test_only_confirmed_true_confirms() -> None:
    assert CodeResult.from_data(CodeResult(confirmed=True).to_data()) == CodeResult(True)
    assert CodeResult.from_data(CodeResult(confirmed=False).to_data()) == CodeResult(False)
    for forged in FORGED_RESULTS:
        assert CodeResult.from_data(forged) == CodeResult(False), forged


def test_code_confirmed_checks_the_request_too() -> None:
    start, ok = REQUEST.to_data(), CodeResult(confirmed=True).to_data()
    submit = Purpose.APPLICATION_SUBMIT
    assert code_confirmed(start, ok, purpose=submit, account_id=17, action_ref="application:5:3")
    for forged in FORGED_RESULTS:
        assert not code_confirmed(start, forged, purpose=submit), forged
    # a confirmed code for something else, or from another sub-dialog
    assert not code_confirmed(start, ok, purpose=Purpose.SIGN_IN)
    assert not code_confirmed(start, ok, purpose=submit, account_id=18)
    assert not code_confirmed(start, ok, purpose=submit, action_ref="application:5:4")
    assert not code_confirmed(None, ok, purpose=submit)
    assert not code_confirmed({"review": True}, ok, purpose=submit)


def test_the_other_start_data() -> None:
    for contract in (
        FormStart(review=True),
        StatusStart(notice="Уже отправлено"),
        RecoveryStart(9),
    ):
        assert type(contract).from_data(contract.to_data()) == contract
    # nothing, or another shape: the default, never an exception
    for junk in (None, [], "x", {"review": "yes", "notice": 5, "account_id": "9"}):
        assert FormStart.from_data(junk) == FormStart()
        assert StatusStart.from_data(junk) == StatusStart()
        assert RecoveryStart.from_data(junk) == RecoveryStart()
    assert RecoveryStart.from_data({"account_id": None}) == RecoveryStart()


# -- through the FSM storages ----------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def fsm_target(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    if request.param == "redis":
        return (
            "redis",
            request.getfixturevalue("redis_url"),
            request.getfixturevalue("redis_prefix"),
        )
    fixture = {"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param]
    return request.param, request.getfixturevalue(fixture), ""


@pytest.fixture
async def proxies(fsm_target: tuple[str, str, str]) -> AsyncIterator[list[Any]]:
    """Two aiogram-dialog storage proxies over the same data: before and after a restart."""
    name, url, prefix = fsm_target
    opened: list[BaseStorage] = []
    engines = []
    made: list[Any] = []
    for _ in range(2):
        if name == "redis":
            redis_storage = create_redis_storage(url, max_connections=2, prefix=prefix)
            storage: BaseStorage = redis_storage
            isolation: Any = create_redis_isolation(redis_storage)
        else:
            engine = create_engine(url)
            engines.append(engine)
            storage = SqlStorage(create_session_factory(engine))
            isolation = SimpleEventIsolation()
        opened.append(storage)
        made.append(
            StorageProxy(
                storage=storage,
                events_isolation=isolation,
                user_id=1001,
                chat_id=1001,
                thread_id=None,
                business_connection_id=None,
                bot=SimpleNamespace(id=42),  # type: ignore[arg-type]
                state_groups={"Otp": Otp},
            )
        )
    try:
        yield made
    finally:
        for storage in opened:
            await storage.close()
        for engine in engines:
            await engine.dispose()


async def test_the_code_request_survives_the_storage(proxies: list[Any]) -> None:
    before, after = proxies
    stack = await before.load_stack()
    context = stack.push(Otp.code, REQUEST.to_data())
    context.access_settings = AccessSettings(user_ids=[1001])
    await before.save_context(context)
    await before.save_stack(stack)
    await before.unlock()

    loaded_stack = await after.load_stack(DEFAULT_STACK_ID)
    try:
        loaded = await after.load_context(loaded_stack.last_intent_id())
    finally:
        await after.unlock()
    assert loaded.state == Otp.code
    assert loaded.start_data == REQUEST.to_data()
    assert CodeRequest.from_data(loaded.start_data) == REQUEST
    # what the sub-dialog ends with is plain JSON too
    result: JsonData = CodeResult(confirmed=True).to_data()
    assert CodeResult.from_data(result).confirmed


# -- in the conversation ----------------------------------------------------------------


async def to_code(user: SandboxUser) -> None:
    """Anna (who has an authenticator) up to the SMS code window of the sign-in."""
    await user.send("/start")
    await user.press("Войти через Госуслуги")
    await user.send(ANNA_PHONE)
    await user.send(PASSWORD)
    await user.press("Поделиться номером")
    await user.press("Код из SMS")
    assert "SMS на номер" in user.last.text


async def outcomes(app: App, action: str) -> list[str]:
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        return [e.outcome for e in await uow.core.audit.all(action)]


async def sign_ins(app: App) -> list[str]:
    return await outcomes(app, "sign_in")


async def test_the_code_window_keeps_its_request_in_the_sql_storage(app: App) -> None:
    anna = app.user()
    await to_code(anna)
    assert app.runtime is not None
    async with app.runtime.uow_factory() as uow:
        records = (await uow.session.execute(select(FsmRecord))).scalars().all()
    contexts = [r.data for r in records if ":aiogd:context:" in r.key and r.data]
    otp = [c for c in contexts if c["state"] == "Otp:code"]
    assert len(otp) == 1
    request = CodeRequest.from_data(otp[0]["start_data"])
    assert request is not None
    assert request.purpose is Purpose.SIGN_IN and request.channel is Channel.SMS
    assert request.can_use_email
    # and after a restart the window still knows what it confirms
    await app.restart()
    await anna.send(app.last_sms_code())
    assert "Главное меню" in anna.last.text


@pytest.mark.parametrize(
    "forged",
    [None, {"confirmed": "yes"}, {"ok": True}, ["confirmed"], 1],
    ids=["none", "string", "other-keys", "list", "int"],
)
async def test_a_forged_code_result_does_not_sign_in(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, forged: Any
) -> None:
    class Forged(CodeResult):
        def to_data(self) -> Any:
            return forged

    # The code sub-dialog ends with `forged` instead of {"confirmed": true}.
    monkeypatch.setattr(otp_handlers, "CodeResult", Forged)
    anna = app.user()
    await to_code(anna)
    await anna.send(app.last_sms_code())
    # back to the choice of the code, as after a cancel; no traceback, no error answer
    assert "Как вы хотите получить код" in anna.last.text
    assert "Главное меню" not in anna.last.text
    assert "Сервис временно недоступен" not in "\n".join([*anna.bot_texts(), *anna.alerts])
    assert not any(r.exc_info for r in caplog.records)
    assert await outcomes(app, "otp.verify") == ["ok"]  # the code itself was right
    assert await sign_ins(app) == []


async def test_a_code_confirmed_for_another_purpose_does_not_sign_in(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OtherPurpose(CodeRequest):
        def to_data(self) -> JsonData:
            return {**super().to_data(), "purpose": Purpose.RECOVERY.value}

    # A stale or forged stack: the code window confirms a recovery code for the account.
    monkeypatch.setattr(signin_handlers, "CodeRequest", OtherPurpose)
    anna = app.user()
    await to_code(anna)
    await anna.send(app.last_sms_code())
    assert "Как вы хотите получить код" in anna.last.text
    assert await outcomes(app, "otp.verify") == ["ok"]
    assert await sign_ins(app) == []


async def test_code_window_with_start_data_of_another_shape_closes_unconfirmed(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(CodeRequest):
        def to_data(self) -> JsonData:
            return {"account_id": "not a number"}

    monkeypatch.setattr(signin_handlers, "CodeRequest", Broken)
    anna = app.user()
    sent = len(app.sms.sent)
    await anna.send("/start")
    await anna.press("Войти через Госуслуги")
    await anna.send(ANNA_PHONE)
    await anna.send(PASSWORD)
    await anna.press("Поделиться номером")
    await anna.press("Код из SMS")
    assert "Как вы хотите получить код" in anna.last.text
    assert len(app.sms.sent) == sent  # no code was sent for a request nobody can read
    assert await sign_ins(app) == []
