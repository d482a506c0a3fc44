"""One-time codes: lifetime, single use, tries, resend voiding, TOTP replay."""

from __future__ import annotations

import pyotp
import pytest

from services.core.errors import DomainError, ValidationError
from services.core.work import in_unit
from services.identity.otp import Channel, CodeError, OtpService, Purpose, ResendTooSoon
from storage.uow import UnitOfWork
from tests.support.services import TOTP_SECRET, Env, make_account


async def issue(env: Env, account_id: int, purpose: str = "sign_in", action_ref: str = "") -> int:
    async with env.uow() as uow:
        account = await uow.identity.accounts.get(account_id)
        assert account is not None
        issued = await OtpService(uow, env.ctx).issue(
            account,
            purpose,
            "sms",
            action_ref=action_ref,
            actor="test",  # type: ignore[arg-type]
        )
        await uow.commit()
        return issued.challenge_id


async def verify(
    env: Env, challenge_id: int, account_id: int, code: str, purpose: str = "sign_in", ref: str = ""
) -> None:
    async with env.uow() as uow:
        try:
            await OtpService(uow, env.ctx).verify(
                challenge_id,
                account_id=account_id,
                purpose=purpose,  # type: ignore[arg-type]
                action_ref=ref,
                raw_code=code,
                actor="test",
            )
        finally:
            await uow.commit()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_code_is_six_digits_sent_by_sms_and_stored_only_as_digest(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    phone, _text = env.sms.sent[-1]
    code = env.last_code()
    assert phone == "+79990000001"
    assert code.isdigit() and len(code) == 6
    async with env.uow() as uow:
        challenge = await uow.identity.otp.get(cid)
        assert challenge is not None
        assert code not in challenge.code_hash
        assert (challenge.expires_at - challenge.created_at).total_seconds() == 300


async def test_code_is_accepted_once(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    code = env.last_code()
    await verify(env, cid, account.id, f" {code[:3]} {code[3:]} ")
    with pytest.raises(CodeError, match="уже использован") as info:
        await verify(env, cid, account.id, code)
    assert info.value.final


async def test_code_expires_after_five_minutes(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    code = env.last_code()
    env.clock.advance(seconds=299)
    # still valid one second before the end (checked on a second code below)
    env.clock.advance(seconds=1)
    with pytest.raises(CodeError, match="Срок действия кода истёк"):
        await verify(env, cid, account.id, code)


async def test_code_valid_just_before_expiry(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    env.clock.advance(seconds=299)
    await verify(env, cid, account.id, env.last_code())


async def test_five_tries_then_the_code_is_dead_even_if_right(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    code = env.last_code()
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeError, match=f"Осталось попыток: {left}"):
            await verify(env, cid, account.id, wrong(code))
    with pytest.raises(CodeError, match="исчерпаны"):
        await verify(env, cid, account.id, wrong(code))
    with pytest.raises(CodeError, match="исчерпаны"):
        await verify(env, cid, account.id, code)


async def test_malformed_code_does_not_use_a_try(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id)
    with pytest.raises(ValidationError, match="6 цифр"):
        await verify(env, cid, account.id, "12ab")
    async with env.uow() as uow:
        challenge = await uow.identity.otp.get(cid)
        assert challenge is not None and challenge.attempts == 0


async def test_resend_has_a_cooldown_and_voids_the_previous_code(env: Env) -> None:
    account = await make_account(env)
    first = await issue(env, account.id)
    first_code = env.last_code()
    env.clock.advance(seconds=30)
    with pytest.raises(DomainError, match="через 30 с"):
        await issue(env, account.id)
    env.clock.advance(seconds=30)
    second = await issue(env, account.id)
    second_code = env.last_code()
    with pytest.raises(CodeError, match="больше не действует"):
        await verify(env, first, account.id, first_code)
    await verify(env, second, account.id, second_code)


async def test_a_resend_too_soon_names_the_code_that_still_stands(env: Env) -> None:
    account = await make_account(env)
    first = await issue(env, account.id, purpose="application_submit", action_ref="app-1")
    code = env.last_code()
    with pytest.raises(ResendTooSoon) as caught:
        await issue(env, account.id, purpose="application_submit", action_ref="app-1")
    assert caught.value.challenge_id == first
    assert caught.value.destination.startswith("+7 ***")
    assert "Пока введите код из последнего сообщения" in caught.value.message
    await verify(env, first, account.id, code, purpose="application_submit", ref="app-1")


async def test_code_is_bound_to_its_purpose_and_action(env: Env) -> None:
    account = await make_account(env)
    cid = await issue(env, account.id, purpose="application_submit", action_ref="app-1")
    code = env.last_code()
    with pytest.raises(CodeError, match="не подходит"):
        await verify(env, cid, account.id, code, purpose="sign_in")
    with pytest.raises(CodeError, match="не подходит"):
        await verify(env, cid, account.id, code, purpose="application_submit", ref="app-2")
    await verify(env, cid, account.id, code, purpose="application_submit", ref="app-1")


async def test_email_code_goes_to_the_accounts_mail(env: Env) -> None:
    account = await make_account(env)
    async with env.uow() as uow:
        acc = await uow.identity.accounts.get(account.id)
        assert acc is not None
        issued = await OtpService(uow, env.ctx).issue(acc, "sign_in", "email", actor="t")
        await uow.commit()
    assert env.mail.sent[-1][0] == "anna@example.ru"
    assert issued.destination == "a***@example.ru"


async def totp_verify(env: Env, account_id: int, code: str) -> None:
    async with env.uow() as uow:
        account = await uow.identity.accounts.get(account_id)
        assert account is not None
        try:
            await OtpService(uow, env.ctx).verify_totp(account, code, actor="test")
        finally:
            await uow.commit()


async def test_totp_code_is_accepted_once(env: Env) -> None:
    account = await make_account(env)
    code = pyotp.TOTP(TOTP_SECRET).at(env.clock.now())
    await totp_verify(env, account.id, code)
    with pytest.raises(CodeError, match="уже использован"):
        await totp_verify(env, account.id, code)
    # the next time step gives a new code, accepted once
    env.clock.advance(seconds=30)
    await totp_verify(env, account.id, pyotp.TOTP(TOTP_SECRET).at(env.clock.now()))


async def test_totp_previous_step_is_refused_after_a_newer_one(env: Env) -> None:
    account = await make_account(env)
    totp = pyotp.TOTP(TOTP_SECRET)
    old = totp.at(env.clock.now())
    env.clock.advance(seconds=30)
    await totp_verify(env, account.id, totp.at(env.clock.now()))
    with pytest.raises(CodeError, match="уже использован"):
        await totp_verify(env, account.id, old)


async def test_totp_wrong_and_stale_codes_are_refused(env: Env) -> None:
    account = await make_account(env)
    totp = pyotp.TOTP(TOTP_SECRET)
    stale = totp.at(env.clock.now())
    env.clock.advance(minutes=5)
    with pytest.raises(CodeError, match="Неверный код"):
        await totp_verify(env, account.id, stale)


async def test_an_sms_the_gateway_refuses_gives_a_russian_answer_and_no_cooldown(
    env: Env,
) -> None:
    """The person is told the code did not go out, and may ask again at once."""
    from services.core.gateways import DeliveryError

    account = await make_account(env)
    real_send = env.sms.send
    failures = [DeliveryError("SMS", "the gateway answered HTTP 500")]

    async def flaky_send(phone: str, text: str) -> None:
        if failures:
            raise failures.pop()
        await real_send(phone, text)

    env.sms.send = flaky_send  # type: ignore[method-assign]

    async def send_code(uow: UnitOfWork) -> object:
        row = await uow.identity.accounts.get(account.id)
        assert row is not None
        return await OtpService(uow, env.ctx).issue(row, Purpose.SIGN_IN, Channel.SMS, actor="t")

    # As every use case runs: in its own unit of work, committed on a domain error.
    with pytest.raises(DomainError, match="Не удалось отправить код"):
        await in_unit(env.uow_factory, send_code)
    async with env.uow() as uow:
        (entry,) = await uow.core.audit.all("otp.issue")
        assert entry.outcome == "not_sent"
        challenge = await uow.identity.otp.latest(account.id, "sign_in")
        assert challenge is not None and challenge.voided_at is not None
    # No cooldown: the undelivered code never counted as sent.
    cid = await issue(env, account.id)
    await verify(env, cid, account.id, env.last_code())
