"""Repositories on SQLite and PostgreSQL (each test runs on both via `database_url`)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.models import (
    Account,
    AuditEntry,
    AuthSession,
    LoginEvent,
    OtpChallenge,
    OutboxMessage,
)
from storage.repositories import AuditRepo
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_serial = count(1)


def make_account(**overrides: object) -> Account:
    n = next(_serial)
    fields: dict[str, object] = {
        "phone": f"+7900{n:07d}",
        "email": f"user{n}@example.ru",
        "snils": f"{n:011d}",
        "last_name": "Иванов",
        "first_name": "Иван",
        "middle_name": "Иванович",
        "password_hash": "argon2-hash",
        "created_at": NOW,
    }
    fields.update(overrides)
    return Account(**fields)


async def add_account(uow_factory: UnitOfWorkFactory, **overrides: object) -> Account:
    async with uow_factory() as uow:
        account = await uow.identity.accounts.add(make_account(**overrides))
        await uow.commit()
    return account


def make_outbox(due_at: datetime, **overrides: object) -> OutboxMessage:
    fields: dict[str, object] = {
        "chat_id": 100,
        "text": "Результаты анализов готовы",
        "kind": "notice",
        "created_at": NOW - timedelta(hours=1),
        "due_at": due_at,
    }
    fields.update(overrides)
    return OutboxMessage(**fields)


# -- accounts -------------------------------------------------------------------


async def test_account_found_by_each_login_kind(uow_factory: UnitOfWorkFactory) -> None:
    account = await add_account(
        uow_factory, phone="+79001112233", email="petrov@example.ru", snils="11223344595"
    )
    await add_account(uow_factory)  # another one, not to be found

    async with uow_factory() as uow:
        for kind, value in [
            ("phone", "+79001112233"),
            ("email", "petrov@example.ru"),
            ("snils", "11223344595"),
        ]:
            found = await uow.identity.accounts.find_by_login(kind, value)
            assert found is not None and found.id == account.id, kind
        assert await uow.identity.accounts.find_by_login("phone", "+79990000000") is None
        found = await uow.identity.accounts.find_by_any(None, "petrov@example.ru")
        assert found is not None and found.id == account.id
        assert await uow.identity.accounts.find_by_any(None, None) is None
        loaded = await uow.identity.accounts.get(account.id)
        assert loaded is not None
        assert loaded.created_at == NOW  # aware UTC on both backends
        assert loaded.failed_password_attempts == 0


async def test_duplicate_phone_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add_account(uow_factory, phone="+79005556677")
    with pytest.raises(IntegrityError):
        async with uow_factory() as uow:
            await uow.identity.accounts.add(make_account(phone="+79005556677"))
            await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.session.scalars(select(Account.phone))) == ["+79005556677"]


# -- sessions -------------------------------------------------------------------


async def test_end_all_sessions_except_current(uow_factory: UnitOfWorkFactory) -> None:
    account = await add_account(uow_factory)
    other = await add_account(uow_factory)
    async with uow_factory() as uow:
        sessions = [
            await uow.identity.sessions.add(
                AuthSession(
                    account_id=account.id,
                    telegram_user_id=500 + i,
                    started_at=NOW,
                    last_seen_at=NOW,
                )
            )
            for i in range(3)
        ]
        foreign = await uow.identity.sessions.add(
            AuthSession(account_id=other.id, telegram_user_id=900, started_at=NOW, last_seen_at=NOW)
        )
        await uow.commit()
    keep = sessions[1]

    async with uow_factory() as uow:
        ended = await uow.identity.sessions.end_all(
            account_id=account.id, now=NOW, reason="logout_others", except_id=keep.id
        )
        await uow.commit()
    assert ended == 2

    async with uow_factory() as uow:
        assert [s.id for s in await uow.identity.sessions.open_for_account(account.id)] == [keep.id]
        current = await uow.identity.sessions.open_for_telegram_user(501)
        assert current is not None and current.id == keep.id
        assert await uow.identity.sessions.open_for_telegram_user(500) is None
        assert [s.id for s in await uow.identity.sessions.open_for_account(other.id)] == [
            foreign.id
        ]
        ended_row = await uow.session.get(AuthSession, sessions[0].id)
        assert ended_row is not None
        assert (ended_row.ended_at, ended_row.end_reason) == (NOW, "logout_others")

    async with uow_factory() as uow:
        assert (
            await uow.identity.sessions.end_all(telegram_user_id=501, now=NOW, reason="logout") == 1
        )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.identity.sessions.open_for_account(account.id) == []


# -- one-time codes ---------------------------------------------------------------


async def test_void_open_touches_only_open_codes_of_that_purpose(
    uow_factory: UnitOfWorkFactory,
) -> None:
    account = await add_account(uow_factory)

    def challenge(purpose: str, **overrides: object) -> OtpChallenge:
        fields: dict[str, object] = {
            "account_id": account.id,
            "purpose": purpose,
            "channel": "sms",
            "code_hash": "h",
            "created_at": NOW,
            "expires_at": NOW + timedelta(minutes=5),
        }
        fields.update(overrides)
        return OtpChallenge(**fields)

    async with uow_factory() as uow:
        open_1 = await uow.identity.otp.add(challenge("login"))
        open_2 = await uow.identity.otp.add(challenge("login"))
        consumed = await uow.identity.otp.add(challenge("login", consumed_at=NOW))
        other_purpose = await uow.identity.otp.add(challenge("change_phone"))
        await uow.commit()

    voided_at = NOW + timedelta(minutes=1)
    async with uow_factory() as uow:
        await uow.identity.otp.void_open(account.id, "login", voided_at)
        await uow.commit()

    async with uow_factory() as uow:
        rows = {
            c.id: await uow.identity.otp.get(c.id)
            for c in (open_1, open_2, consumed, other_purpose)
        }
        assert rows[open_1.id].voided_at == voided_at  # type: ignore[union-attr]
        assert rows[open_2.id].voided_at == voided_at  # type: ignore[union-attr]
        assert rows[consumed.id].voided_at is None  # type: ignore[union-attr]
        assert rows[other_purpose.id].voided_at is None  # type: ignore[union-attr]
        latest = await uow.identity.otp.latest(account.id, "login")
        assert latest is not None and latest.id == consumed.id


# -- login events ---------------------------------------------------------------


async def test_recent_login_events_newest_first_at_most_ten(
    uow_factory: UnitOfWorkFactory,
) -> None:
    account = await add_account(uow_factory)
    other = await add_account(uow_factory)
    async with uow_factory() as uow:
        for minute in range(12):  # added out of order on purpose
            at = NOW + timedelta(minutes=(minute * 7) % 12)
            await uow.identity.login_events.add(
                LoginEvent(account_id=account.id, telegram_user_id=1, at=at, outcome="ok")
            )
        await uow.identity.login_events.add(
            LoginEvent(
                account_id=other.id, telegram_user_id=2, at=NOW + timedelta(days=1), outcome="ok"
            )
        )
        await uow.commit()

    async with uow_factory() as uow:
        recent = await uow.identity.login_events.recent(account.id)
    assert len(recent) == 10
    assert [e.at for e in recent] == [NOW + timedelta(minutes=m) for m in range(11, 1, -1)]
    assert {e.account_id for e in recent} == {account.id}


# -- audit ----------------------------------------------------------------------


def test_audit_repo_has_no_update_or_delete() -> None:
    public = {
        name
        for name, member in inspect.getmembers(AuditRepo, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == {
        "append",
        "for_subject",
        "all",
        "head",
        "chain",
        "seq_of_hash",
        "max_seq",
        "last_seq_for_subject",
        "count_for_subject",
        "subject_page",
        "sign_ins",
    }
    assert not {name for name in public if name.startswith(("update", "delete", "remove"))}


async def test_audit_rows_persist_in_order(uow_factory: UnitOfWorkFactory) -> None:
    actions = ["login", "view_record", "change_phone", "logout"]
    for i, action in enumerate(actions):
        async with uow_factory() as uow:
            await uow.core.audit.append(
                AuditEntry(
                    at=NOW + timedelta(seconds=i),
                    actor="patient",
                    actor_account_id=7,
                    subject_account_id=7,
                    action=action,
                    outcome="ok",
                    details={"step": i, "note": "проверка"},
                ),
                b"k" * 32,
            )
            await uow.commit()

    async with uow_factory() as uow:
        entries = await uow.core.audit.all()
        assert [e.action for e in entries] == actions
        assert [e.details for e in entries] == [{"step": i, "note": "проверка"} for i in range(4)]
        assert [e.action for e in await uow.core.audit.all("login")] == ["login"]
        assert [e.action for e in await uow.core.audit.for_subject(7, limit=2)] == [
            "logout",
            "change_phone",
        ]


# -- outbox ---------------------------------------------------------------------


async def test_claim_due_takes_due_pending_unclaimed_rows(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        rows = {
            "due": make_outbox(NOW - timedelta(minutes=5)),
            "due_now": make_outbox(NOW),
            "future": make_outbox(NOW + timedelta(seconds=1)),
            "claim_expired": make_outbox(
                NOW - timedelta(minutes=10), claimed_until=NOW - timedelta(seconds=1)
            ),
            "claim_held": make_outbox(
                NOW - timedelta(minutes=10), claimed_until=NOW + timedelta(seconds=30)
            ),
            "sent": make_outbox(NOW - timedelta(minutes=10), status="sent", sent_at=NOW),
        }
        for row in rows.values():
            await uow.core.outbox.add(row)
        await uow.commit()

    until = NOW + timedelta(seconds=60)
    async with uow_factory() as uow:
        claimed = await uow.core.outbox.claim_due(NOW, until, limit=10)
        await uow.commit()
    # Oldest due first; the expired claim is claimable again; the future and held are not.
    assert [m.id for m in claimed] == [
        rows["claim_expired"].id,
        rows["due"].id,
        rows["due_now"].id,
    ]

    async with uow_factory() as uow:
        for message in claimed:
            stored = await uow.core.outbox.get(message.id)
            assert stored is not None and stored.claimed_until == until
        # Half a minute on: only the row that has meanwhile come due; claims still hold.
        half_minute = await uow.core.outbox.claim_due(NOW + timedelta(seconds=30), until, limit=10)
        assert [m.id for m in half_minute] == [rows["future"].id]
        # Once every claim has run out, all pending rows are claimable again.
        later = await uow.core.outbox.claim_due(
            until + timedelta(seconds=1), until + timedelta(minutes=5), limit=10
        )
        assert {m.id for m in later} == {
            rows["claim_expired"].id,
            rows["due"].id,
            rows["due_now"].id,
            rows["future"].id,
            rows["claim_held"].id,
        }


async def test_claim_due_respects_limit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for minutes in range(5):
            await uow.core.outbox.add(make_outbox(NOW - timedelta(minutes=minutes)))
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.core.outbox.claim_due(NOW, NOW + timedelta(minutes=1), limit=2)
        await uow.commit()
    async with uow_factory() as uow:
        second = await uow.core.outbox.claim_due(NOW, NOW + timedelta(minutes=1), limit=10)
        await uow.commit()
    assert len(first) == 2 and len(second) == 3
    assert not {m.id for m in first} & {m.id for m in second}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_concurrent_claimers_get_disjoint_rows(uow_factory: UnitOfWorkFactory) -> None:
    """Two workers in open transactions at once: SKIP LOCKED hands each other rows."""
    async with uow_factory() as uow:
        for minutes in range(10):
            await uow.core.outbox.add(make_outbox(NOW - timedelta(minutes=minutes)))
        await uow.commit()

    until = NOW + timedelta(minutes=1)
    async with uow_factory() as first, uow_factory() as second:
        got_first = await first.core.outbox.claim_due(NOW, until, limit=4)  # holds its row locks
        got_second = await second.core.outbox.claim_due(NOW, until, limit=10)  # must not wait
        await first.commit()
        await second.commit()

    ids_first = {m.id for m in got_first}
    ids_second = {m.id for m in got_second}
    assert len(ids_first) == 4
    assert len(ids_second) == 6
    assert not ids_first & ids_second

    async with uow_factory() as uow:
        assert await uow.core.outbox.claim_due(NOW, until, limit=10) == []
