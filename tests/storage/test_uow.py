"""Unit of work: all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.models import Account, AuditEntry, OutboxMessage
from storage.uow import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Boom(Exception):
    pass


async def _write_change(uow: UnitOfWork, phone: str) -> None:
    """A change with its audit row and its notification, as services write them."""
    account = await uow.identity.accounts.add(
        Account(
            phone=phone,
            last_name="Смирнова",
            first_name="Анна",
            password_hash="hash",
            created_at=NOW,
        )
    )
    await uow.core.audit.append(
        AuditEntry(
            at=NOW,
            actor="patient",
            subject_account_id=account.id,
            action="register",
            outcome="ok",
            details={},
        ),
        b"k" * 32,
    )
    await uow.core.outbox.add(
        OutboxMessage(chat_id=1, text="Добро пожаловать", kind="notice", created_at=NOW, due_at=NOW)
    )
    await uow.flush()


async def _counts(uow_factory: UnitOfWorkFactory) -> tuple[int, int, int]:
    async with uow_factory() as uow:
        result = []
        for model in (Account, AuditEntry, OutboxMessage):
            result.append(await uow.session.scalar(select(func.count()).select_from(model)))
        return (result[0] or 0, result[1] or 0, result[2] or 0)


async def test_exception_before_commit_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(Boom):
        async with uow_factory() as uow:
            await _write_change(uow, "+79001230001")
            raise Boom
    assert await _counts(uow_factory) == (0, 0, 0)


async def test_leaving_without_commit_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _write_change(uow, "+79001230002")
    assert await _counts(uow_factory) == (0, 0, 0)


async def test_commit_persists_everything(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _write_change(uow, "+79001230003")
        await uow.commit()
    assert await _counts(uow_factory) == (1, 1, 1)


async def test_session_outside_context_is_an_error(uow_factory: UnitOfWorkFactory) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        uow.session  # noqa: B018
    async with uow:
        pass
    with pytest.raises(RuntimeError):
        uow.session  # noqa: B018


async def test_database_errors_do_not_carry_personal_data(
    sqlite_uow_factory: UnitOfWorkFactory,
) -> None:
    def account() -> Account:
        return Account(
            phone="+79991234567",
            last_name="Секретова",
            first_name="Тайна",
            password_hash="x",
            failed_password_attempts=0,
            created_at=datetime.now(UTC),
        )

    async with sqlite_uow_factory() as uow:
        await uow.identity.accounts.add(account())
        await uow.commit()
    async with sqlite_uow_factory() as uow:
        try:
            await uow.identity.accounts.add(account())
        except IntegrityError as exc:
            message = str(exc)
        else:
            raise AssertionError("a duplicate phone was accepted")
    assert "Секретова" not in message and "+79991234567" not in message
    assert "hidden" in message
