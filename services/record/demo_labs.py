"""Demo data: Анна's labs (services.record.demo)."""

from __future__ import annotations

from services.core.context import AppContext
from storage.uow import UnitOfWork


async def seed_lab_results(uow: UnitOfWork, ctx: AppContext, account_id: int) -> None:
    """Add the demo's labs to the record of `account_id` unless it has some already."""
