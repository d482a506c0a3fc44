"""Sign-in rules at the service level: lockout, sessions, recovery, password change."""

from __future__ import annotations

import pytest

from services.core.errors import ValidationError
from services.identity.admin import AdminService
from services.identity.auth import (
    AccountLocked,
    AuthService,
    PasswordCheck,
    Passwords,
    PhoneMismatch,
    WrongPassword,
)
from tests.support.services import PASSWORD, Env, make_account

TG = 5001


async def check_password(env: Env, account_id: int, password: str, tg: int = TG) -> None:
    await Passwords(env.uow_factory, env.ctx).check_password(account_id, password, tg)


async def sign_in(env: Env, account_id: int, tg: int = TG) -> int:
    async with env.uow() as uow:
        user = await AuthService(uow, env.ctx).complete_sign_in(account_id, tg, tg)
        await uow.commit()
        return user.session_id


async def test_find_account_by_each_login_kind(env: Env) -> None:
    account = await make_account(env)
    async with env.uow() as uow:
        service = AuthService(uow, env.ctx)
        for login in ("+7 999 000-00-01", "89990000001", "ANNA@example.ru", "112-233-445 95"):
            assert (await service.find_account(login, TG)).account_id == account.id
        # a login that names no account is not told apart here: the password step answers
        unknown = await service.find_account("+79990000009", TG)
        assert unknown.account_id is None and unknown.login_ref
        with pytest.raises(ValidationError):
            await service.find_account("не логин", TG)


async def test_three_wrong_passwords_in_a_row_lock_the_account(env: Env) -> None:
    account = await make_account(env)
    with pytest.raises(WrongPassword, match="Осталось попыток: 2"):
        await check_password(env, account.id, "wrong-1")
    with pytest.raises(WrongPassword, match="Осталось попыток: 1"):
        await check_password(env, account.id, "wrong-2")
    with pytest.raises(AccountLocked, match="заблокирована"):
        await check_password(env, account.id, "wrong-3")
    # even the right password is refused now
    with pytest.raises(AccountLocked):
        await check_password(env, account.id, PASSWORD)
    async with env.uow() as uow:
        locks = await uow.core.audit.all("account.lock")
        assert [a.subject_account_id for a in locks] == [account.id]
        attempts = [e.outcome for e in await uow.core.audit.all("sign_in.password")]
        assert attempts == ["wrong_password", "wrong_password", "wrong_password", "locked"]


async def test_a_right_password_resets_the_count(env: Env) -> None:
    account = await make_account(env)
    for _ in range(2):
        with pytest.raises(WrongPassword):
            await check_password(env, account.id, "wrong")
    await check_password(env, account.id, PASSWORD)
    with pytest.raises(WrongPassword, match="Осталось попыток: 2"):
        await check_password(env, account.id, "wrong")


async def test_admin_unlock_is_audited_and_lets_the_person_in(env: Env) -> None:
    account = await make_account(env)
    for _ in range(3):
        with pytest.raises((WrongPassword, AccountLocked)):
            await check_password(env, account.id, "wrong")
    async with env.uow() as uow:
        await AdminService(uow, env.ctx, operator="olga").unlock("+79990000001")
        await uow.commit()
    await check_password(env, account.id, PASSWORD)
    async with env.uow() as uow:
        (entry,) = await uow.core.audit.all("account.unlock")
        assert entry.actor == "admin:olga" and entry.outcome == "ok"


async def test_phone_must_be_the_accounts_own(env: Env) -> None:
    account = await make_account(env)
    async with env.uow() as uow:
        service = AuthService(uow, env.ctx)
        with pytest.raises(ValidationError, match="свой номер"):
            await service.confirm_phone(account.id, TG, "+79990000001", contact_user_id=999)
        with pytest.raises(PhoneMismatch):
            await service.confirm_phone(account.id, TG, "+79991112233", contact_user_id=TG)
        await service.confirm_phone(account.id, TG, "79990000001", contact_user_id=TG)
        await uow.commit()
    async with env.uow() as uow:
        outcomes = [a.outcome for a in await uow.core.audit.all("sign_in.phone")]
        assert outcomes == ["not_own_contact", "mismatch", "ok"]


async def test_session_expires_after_idle_minutes_and_activity_extends_it(env: Env) -> None:
    account = await make_account(env)
    await sign_in(env, account.id)
    env.clock.advance(minutes=29)
    async with env.uow() as uow:
        state = await AuthService(uow, env.ctx).resolve_session(TG)
        assert state.user is not None
        await uow.commit()
    env.clock.advance(minutes=29)
    async with env.uow() as uow:
        assert (await AuthService(uow, env.ctx).resolve_session(TG)).user is not None
        await uow.commit()
    env.clock.advance(minutes=30, seconds=1)
    async with env.uow() as uow:
        state = await AuthService(uow, env.ctx).resolve_session(TG)
        assert state.user is None and state.expired
        await uow.commit()
    async with env.uow() as uow:
        state = await AuthService(uow, env.ctx).resolve_session(TG)
        assert state.user is None and not state.expired


async def test_background_reads_do_not_extend_the_session(env: Env) -> None:
    account = await make_account(env)
    await sign_in(env, account.id)
    env.clock.advance(minutes=20)
    async with env.uow() as uow:
        await AuthService(uow, env.ctx).resolve_session(TG, touch=False)
        await uow.commit()
    env.clock.advance(minutes=11)
    async with env.uow() as uow:
        assert (await AuthService(uow, env.ctx).resolve_session(TG)).expired


async def test_password_change_ends_other_sessions_and_notifies(env: Env) -> None:
    account = await make_account(env)
    await sign_in(env, account.id, tg=1)
    mine = await sign_in(env, account.id, tg=2)
    async with env.uow() as uow:
        user = (await AuthService(uow, env.ctx).resolve_session(2)).user
        await uow.commit()
    assert user is not None and user.session_id == mine
    passwords = Passwords(env.uow_factory, env.ctx)
    with pytest.raises(ValidationError, match="заглавн"):
        await passwords.set_new_password(user, "newpassword1", 2, 2)
    with pytest.raises(ValidationError, match="отличаться"):
        await passwords.set_new_password(user, PASSWORD, 2, 2)
    assert await passwords.set_new_password(user, "New-Passw0rd", 2, 2) == 1
    async with env.uow() as uow:
        service = AuthService(uow, env.ctx)
        assert (await service.resolve_session(1)).user is None
        assert (await service.resolve_session(2)).user is not None
        pushes = await uow.core.outbox.for_chat(1)
        assert [p.kind for p in pushes][-1] == "password_changed"
        await uow.commit()
    await check_password(env, account.id, "New-Passw0rd", tg=2)


async def test_recovery_sets_a_new_password_and_unlocks(env: Env) -> None:
    account = await make_account(env)
    for _ in range(3):
        with pytest.raises((WrongPassword, AccountLocked)):
            await check_password(env, account.id, "wrong")
    async with env.uow() as uow:
        assert await AuthService(uow, env.ctx).request_recovery(account.id, "", TG) is not None
        await uow.commit()
    assert env.mail.sent[-1][0] == "anna@example.ru"
    passwords = Passwords(env.uow_factory, env.ctx)
    with pytest.raises(ValidationError):
        await passwords.finish_recovery(account.id, "short", TG)
    await passwords.finish_recovery(account.id, "Fresh-Passw0rd", TG)
    await check_password(env, account.id, "Fresh-Passw0rd")
    async with env.uow() as uow:
        actions = [a.action for a in await uow.core.audit.all()]
        assert "recovery.start" in actions and "recovery.finish" in actions
        (unlock,) = await uow.core.audit.all("account.unlock")
        assert unlock.details == {"via": "recovery"}


async def test_audit_rows_carry_no_personal_data(env: Env) -> None:
    account = await make_account(env)
    with pytest.raises(WrongPassword):
        await check_password(env, account.id, "wrong")
    await sign_in(env, account.id)
    async with env.uow() as uow:
        for entry in await uow.core.audit.all():
            blob = f"{entry.actor} {entry.action} {entry.details}"
            for secret in ("+7999", "anna@", "11223344595", "Иванова", PASSWORD, "wrong"):
                assert secret not in blob


async def test_a_password_changed_while_it_was_checked_is_checked_again(env: Env) -> None:
    """The hash is read, checked off the loop, then recorded: a change in between counts."""
    account = await make_account(env)
    passwords = Passwords(env.uow_factory, env.ctx)
    real_check = passwords._check

    async def check_then_change(stored: str, password: str) -> PasswordCheck:
        result = await real_check(stored, password)
        if stored != new_hash:
            async with env.uow() as uow:
                row = await uow.identity.accounts.get(account.id)
                assert row is not None
                row.password_hash = new_hash
                await uow.commit()
        return result

    new_hash = env.ctx.hasher.hash("Other-Passw0rd")
    passwords._check = check_then_change  # type: ignore[method-assign]
    # The old password matched the hash it was checked against, but that hash is
    # gone: the check runs again against the new one and fails.
    with pytest.raises(WrongPassword):
        await passwords.check_password(account.id, PASSWORD, TG)


async def test_no_transaction_is_open_while_a_password_is_hashed(env: Env) -> None:
    account = await make_account(env)
    engine = env.uow_factory.session_factory.kw["bind"]
    open_connections: list[int] = []
    real_verify = env.ctx.hasher.verify

    def verify(stored: str, password: str) -> bool:
        open_connections.append(engine.sync_engine.pool.checkedout())
        return real_verify(stored, password)

    env.ctx.hasher.verify = verify  # type: ignore[method-assign]
    await check_password(env, account.id, PASSWORD)
    assert open_connections == [0]
