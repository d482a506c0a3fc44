"""Repositories: Medical records.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import (
    MedicalRecord,
)
from storage.repositories.base import Repo


class MedicalRecordRepo(Repo):
    async def for_account(self, account_id: int) -> MedicalRecord | None:
        stmt = select(MedicalRecord).where(MedicalRecord.account_id == account_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, record: MedicalRecord) -> MedicalRecord:
        self.session.add(record)
        await self.session.flush()
        return record


class SectionRepo(Repo):
    """Pages of the record's sections (diagnoses, medications …), one entry, documents."""
