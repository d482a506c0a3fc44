"""Repositories: Access a patient shares with relatives.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update

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

    async def get_for_update(self, grant_id: int) -> RelativeGrant | None:
        """The grant, locked for this transaction (where the backend locks rows) and fresh."""
        stmt = (
            select(RelativeGrant)
            .where(RelativeGrant.id == grant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_token_hash(self, token_hash: str) -> RelativeGrant | None:
        """The invitation whose link carries the token with this hash (locked, fresh)."""
        stmt = (
            select(RelativeGrant)
            .where(RelativeGrant.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_relative(
        self, *, telegram_user_id: int | None = None, account_id: int | None = None
    ) -> Sequence[RelativeGrant]:
        """Accepted grants (of every patient) bound to this Telegram user or account.

        Whatever their state now: the caller tells the live from the revoked.
        """
        conditions: list[ColumnElement[bool]] = []
        if account_id is not None:
            conditions.append(RelativeGrant.relative_account_id == account_id)
        if telegram_user_id is not None:
            conditions.append(RelativeGrant.relative_telegram_user_id == telegram_user_id)
        if not conditions:
            return []
        stmt = (
            select(RelativeGrant)
            .where(or_(*conditions), RelativeGrant.accepted_at.is_not(None))
            .order_by(RelativeGrant.id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def touch(self, grant_id: int, at: datetime) -> None:
        """The grant was used just now (its «последний доступ»)."""
        await self.session.execute(
            update(RelativeGrant).where(RelativeGrant.id == grant_id).values(last_access_at=at)
        )
