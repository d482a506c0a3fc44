"""Demo data of the record: Анна's sections and lab results (called by services.demo)."""

from __future__ import annotations

from services.core.context import AppContext
from services.record.demo_labs import seed_lab_results
from services.record.demo_sections import seed_sections
from storage.uow import UnitOfWork


async def seed_record(uow: UnitOfWork, ctx: AppContext, account_id: int) -> None:
    """Fill the (open, empty) record of `account_id` with the demo's entries, once."""
    await seed_sections(uow, ctx, account_id)
    await seed_lab_results(uow, ctx, account_id)
