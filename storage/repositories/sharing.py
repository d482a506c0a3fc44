"""Repositories: Access a patient shares with relatives.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select

from storage.models import RelativeGrant
from storage.repositories.base import Repo


class RelativeGrantRepo(Repo):
    async def add(self, grant: RelativeGrant) -> RelativeGrant:
        self.session.add(grant)
        await self.session.flush()
        return grant

    async def get(self, grant_id: int) -> RelativeGrant | None:
        return await self.session.get(RelativeGrant, grant_id)

    async def for_relative(
        self,
        patient_account_id: int,
        *,
        account_id: int | None = None,
        telegram_user_id: int | None = None,
        phone: str | None = None,
    ) -> Sequence[RelativeGrant]:
        """The patient's grants naming this relative by account, Telegram user or phone.

        Oldest first; whether a row really belongs to the asker (a grant accepted
        from one Telegram account is not another's with the same phone) is for
        the caller to judge. Read afresh from the database on every call, so a
        revocation committed elsewhere is seen at once.
        """
        conditions: list[ColumnElement[bool]] = []
        if account_id is not None:
            conditions.append(RelativeGrant.relative_account_id == account_id)
        if telegram_user_id is not None:
            conditions.append(RelativeGrant.relative_telegram_user_id == telegram_user_id)
        if phone is not None:
            conditions.append(RelativeGrant.relative_phone == phone)
        if not conditions:
            return []
        stmt = (
            select(RelativeGrant)
            .where(RelativeGrant.patient_account_id == patient_account_id, or_(*conditions))
            .order_by(RelativeGrant.id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def for_patient(self, patient_account_id: int) -> Sequence[RelativeGrant]:
        stmt = (
            select(RelativeGrant)
            .where(RelativeGrant.patient_account_id == patient_account_id)
            .order_by(RelativeGrant.id)
        )
        return (await self.session.execute(stmt)).scalars().all()
