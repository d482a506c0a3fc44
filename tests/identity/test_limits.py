"""The sign-in limits at the service level: what is counted, where, and for how long."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.core.errors import DomainError
from services.identity.auth import AccountLocked, AuthService, Passwords, WrongPassword
from services.identity.limits import SecondFactorLocked
from services.identity.otp import CodeError, OtpService
from storage.models.identity import SignInAttempt
from tests.support.services import PASSWORD, Env, make_account

TG = 5001


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def issue(env: Env, account_id: int, purpose: str, action_ref: str = "") -> int:
    async with env.uow() as uow:
        account = await uow.identity.accounts.get(account_id)
        assert account is not None
        issued = await OtpService(uow, env.ctx).issue(
            account,
            purpose,  # type: ignore[arg-type]
            "sms",  # type: ignore[arg-type]
            action_ref=action_ref,
            actor="test",
        )
        await uow.commit()
        return issued.challenge_id


async def verify(
    env: Env, cid: int, account_id: int, code: str, purpose: str, ref: str = ""
) -> None:
    async with env.uow() as uow:
        try:
            await OtpService(uow, env.ctx).verify(
                cid,
                account_id=account_id,
                purpose=purpose,  # type: ignore[arg-type]
                action_ref=ref,
                raw_code=code,
                actor="test",
            )
        finally:
            await uow.commit()


async def test_wrong_codes_of_every_purpose_add_up_to_one_limit(env: Env) -> None:
    account = await make_account(env)
    purposes = ["sign_in", "change_password", "application_submit", "recovery", "sign_in"]
    for purpose in purposes:
        cid = await issue(env, account.id, purpose, "application:1:1" * (purpose[0] == "a"))
        for _ in range(2):
            with pytest.raises(CodeError):
                await verify(
                    env,
                    cid,
                    account.id,
                    wrong(env.last_code()),
                    purpose,
                    "application:1:1" * (purpose[0] == "a"),
                )
        env.clock.advance(seconds=61)
    # ten wrong codes over five challenges and four purposes: no code goes out now
    sent = len(env.sms.sent)
    with pytest.raises(SecondFactorLocked):
        await issue(env, account.id, "change_password")
    assert len(env.sms.sent) == sent
    async with env.uow() as uow:
        rows = await uow.identity.accounts.count_attempts("code", account_id=account.id)
        (locked,) = await uow.core.audit.all("sign_in.second_factor")
        pushes = [p.kind for p in await uow.core.outbox.for_chat(TG)]
    assert rows == 10 and locked.subject_account_id == account.id
    assert pushes == []  # no chat bound in this test; the SMS and e-mail went out
    assert "заблокирован" in env.mail.sent[-1][2]


async def test_wrong_codes_spread_over_more_than_the_window_do_not_block(env: Env) -> None:
    account = await make_account(env)
    for _ in range(4):
        cid = await issue(env, account.id, "sign_in")
        for _ in range(3):
            with pytest.raises(CodeError, match="Неверный код"):
                await verify(env, cid, account.id, wrong(env.last_code()), "sign_in")
        env.clock.advance(minutes=25)
    cid = await issue(env, account.id, "sign_in")
    await verify(env, cid, account.id, env.last_code(), "sign_in")


async def test_unknown_login_is_checked_against_a_dummy_argon2_hash(env: Env) -> None:
    async with env.uow() as uow:
        ref = await AuthService(uow, env.ctx).find_account("+79990000999", TG)
        await uow.commit()
    checked: list[str] = []
    real_verify = env.ctx.hasher.verify

    def verify_spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real_verify(stored, password)

    env.ctx.hasher.verify = verify_spy  # type: ignore[method-assign]
    passwords = Passwords(env.uow_factory, env.ctx)
    with pytest.raises(WrongPassword, match="Неверный логин или пароль\\. Осталось попыток: 2"):
        await passwords.sign_in_password(None, ref.login_ref, PASSWORD, TG)
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")
    with pytest.raises(WrongPassword, match="Осталось попыток: 1"):
        await passwords.sign_in_password(None, ref.login_ref, PASSWORD, TG)
    with pytest.raises(AccountLocked):
        await passwords.sign_in_password(None, ref.login_ref, PASSWORD, TG)
    async with env.uow() as uow:
        rows = await uow.identity.accounts.count_attempts("password", login_digest=ref.login_ref)
        outcomes = [a.outcome for a in await uow.core.audit.all("sign_in.password")]
    assert rows == 3
    assert outcomes == ["unknown_login"] * 3
    # the login itself is never stored
    async with env.uow() as uow:
        attempts = (await uow.session.execute(select(SignInAttempt))).scalars().all()
    assert all("79990000999" not in (a.login_digest or "") for a in attempts)


async def test_the_session_lifetime_ends_an_active_session(env: Env) -> None:
    account = await make_account(env)
    async with env.uow() as uow:
        await AuthService(uow, env.ctx).complete_sign_in(account.id, TG, TG)
        await uow.commit()
    for _ in range(23):
        env.clock.advance(minutes=30)
        async with env.uow() as uow:
            assert (await AuthService(uow, env.ctx).resolve_session(TG)).user is not None
            await uow.commit()
    env.clock.advance(minutes=30)
    async with env.uow() as uow:
        state = await AuthService(uow, env.ctx).resolve_session(TG)
        await uow.commit()
    assert state.user is None and state.expired and state.reason == "lifetime"


async def test_recovery_of_an_account_without_email_says_the_same_and_sends_nothing(
    env: Env,
) -> None:
    account = await make_account(env, email=False)
    async with env.uow() as uow:
        service = AuthService(uow, env.ctx)
        assert await service.request_recovery(account.id, "", TG) is None
        await uow.commit()
    assert not env.mail.sent
    async with env.uow() as uow:
        with pytest.raises(CodeError, match="Неверный код\\. Осталось попыток: 4"):
            await AuthService(uow, env.ctx).check_recovery_code(account.id, "", None, "123456", TG)
        await uow.commit()
    env.clock.advance(seconds=30)
    async with env.uow() as uow:
        with pytest.raises(DomainError, match="Новый код можно запросить через 30 с"):
            await AuthService(uow, env.ctx).request_recovery(account.id, "", TG)
