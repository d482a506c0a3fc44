"""The audit journal: who, acting for whom, did what, when, with what outcome.

Details name records by their ids; they never carry personal data.

The journal is a hash chain (storage.repositories.core): each row carries the
hash of the one before it and an HMAC over its own content, keyed with
AUDIT_KEY (``ctx.audit_key``), which is kept outside the database. Rows are
numbered by ``seq`` without gaps; the head row holds the last number and hash.
``verify`` (``python -m bot audit verify``) walks the chain and names the first
row that was changed, removed or moved, and notices the newest rows removed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from services.core.context import AppContext
from storage.models import AuditEntry
from storage.repositories.core import GENESIS, chain_digest
from storage.uow import UnitOfWork

# Rows read per query while verifying.
VERIFY_BATCH = 1000


def audit_key(ctx: AppContext) -> bytes:
    """The chain's HMAC key: AUDIT_KEY, or one derived from the secret key."""
    if ctx.audit_key:
        return ctx.audit_key
    return hmac.new(ctx.secret_key, b"audit-chain", hashlib.sha256).digest()


async def record(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    actor: str,
    action: str,
    outcome: str = "ok",
    actor_account_id: int | None = None,
    subject_account_id: int | None = None,
    permission: str | None = None,
    basis: str | None = None,
    **details: Any,
) -> None:
    """Append one row to the journal (in the caller's unit of work, chained at its commit).

    `permission` and `basis` say what access to the subject's data the action
    rested on (services.core.access: ``**decision.audit_fields()``); `details`
    name records by their ids.
    """
    await uow.core.audit.append(
        AuditEntry(
            at=ctx.gateways.clock.now(),
            actor=actor,
            actor_account_id=actor_account_id,
            subject_account_id=subject_account_id,
            action=action,
            outcome=outcome,
            permission=permission,
            basis=basis,
            details=details,
        ),
        audit_key(ctx),
    )


def telegram_actor(telegram_user_id: int) -> str:
    return f"telegram:{telegram_user_id}"


# -- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: `problem` is None when the journal is intact."""

    rows: int
    last_seq: int
    last_hash: str
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def _where(entry: AuditEntry) -> str:
    at = entry.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"id {entry.id}, {at}, {entry.action}"


async def verify(uow: UnitOfWork, ctx: AppContext) -> ChainReport:
    """Walk the chain up to the head; stop at the first row that does not hold.

    The head is read first, so rows appended while this runs are not judged.
    """
    key = audit_key(ctx)
    repo = uow.core.audit
    head = await repo.head()
    if head is None:
        return ChainReport(0, 0, GENESIS, "the head row (audit_head) is missing")
    expected, prev, rows = 1, GENESIS, 0
    while expected <= head.seq:
        batch = await repo.chain(expected - 1, head.seq, VERIFY_BATCH)
        if not batch:
            break
        for entry in batch:
            problem = await _judge(uow, key, entry, expected, prev)
            if problem is not None:
                return ChainReport(rows, expected - 1, prev, problem)
            rows += 1
            expected, prev = entry.seq + 1, entry.hash
    last = expected - 1
    if last < head.seq:
        first = last + 1
        span = f"row #{first}" if first == head.seq else f"rows #{first}–#{head.seq}"
        return ChainReport(
            rows,
            last,
            prev,
            f"{span} missing: the newest rows were removed (the head is at #{head.seq})",
        )
    if head.hash != prev:
        return ChainReport(rows, last, prev, f"the head does not match row #{last}")
    newest = await repo.max_seq()
    if newest > head.seq:
        fresh = await repo.head()
        if fresh is None or newest > fresh.seq:
            return ChainReport(
                rows, last, prev, f"rows after the head (#{head.seq}) up to #{newest}"
            )
    return ChainReport(rows, last, prev)


async def _judge(
    uow: UnitOfWork, key: bytes, entry: AuditEntry, expected: int, prev: str
) -> str | None:
    if entry.seq != expected:
        span = (
            f"row #{expected}"
            if entry.seq == expected + 1
            else (f"rows #{expected}–#{entry.seq - 1}")
        )
        return f"{span} missing: removed before row #{entry.seq} ({_where(entry)})"
    if not hmac.compare_digest(chain_digest(key, entry, entry.prev_hash), entry.hash):
        return f"row #{entry.seq} was changed ({_where(entry)})"
    if entry.prev_hash != prev:
        source = (
            0 if entry.prev_hash == GENESIS else await uow.core.audit.seq_of_hash(entry.prev_hash)
        )
        if source is None:
            return (
                f"row #{entry.seq} does not follow row #{entry.seq - 1}: a row between them "
                f"was removed ({_where(entry)})"
            )
        return (
            f"row #{entry.seq} is out of order: it was written after row #{source}, "
            f"not #{entry.seq - 1} ({_where(entry)})"
        )
    return None
