"""The audit journal: who, acting for whom, did what, when, with what outcome.

Details name records by their ids; they never carry personal data.
"""

from __future__ import annotations

from typing import Any

from services.core.context import AppContext
from storage.models import AuditEntry
from storage.uow import UnitOfWork


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
    """Append one row to the journal (in the caller's unit of work).

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
        )
    )


def telegram_actor(telegram_user_id: int) -> str:
    return f"telegram:{telegram_user_id}"
