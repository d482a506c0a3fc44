"""Demo data: Анна's sections (services.record.demo)."""

from __future__ import annotations

from services.core.context import AppContext
from storage.uow import UnitOfWork


async def seed_sections(uow: UnitOfWork, ctx: AppContext, account_id: int) -> None:
    """Add the demo's sections to the record of `account_id` unless it has some already."""
