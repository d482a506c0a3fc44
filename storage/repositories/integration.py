"""Repositories: API clients (laboratories and other systems that call in).

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select

from storage.models import ApiClient, ApiTokenUse, LabObservation, LabResult, MedicalRecord
from storage.repositories.base import Repo


class ApiClientRepo(Repo):
    async def add(self, client: ApiClient) -> ApiClient:
        self.session.add(client)
        await self.session.flush()
        return client

    async def get(self, client_id: int) -> ApiClient | None:
        """The row as the database holds it now (a revocation committed elsewhere counts)."""
        stmt = (
            select(ApiClient)
            .where(ApiClient.id == client_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_issuer(self, issuer: str) -> ApiClient | None:
        """The client that signs its tokens with this ``iss``."""
        stmt = (
            select(ApiClient)
            .where(ApiClient.issuer == issuer)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_name(self, name: str) -> ApiClient | None:
        stmt = select(ApiClient).where(ApiClient.name == name).order_by(ApiClient.id).limit(1)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class LabReportRepo(Repo):
    """Reports laboratories send: found by (laboratory, report id), stored with their analytes."""

    async def patient(self, *, snils: str | None, policy_number: str | None) -> int | None:
        """The account whose open record has this СНИЛС or ОМС policy number (None: no such)."""
        conditions = []
        if snils:
            conditions.append(MedicalRecord.snils == snils)
        if policy_number:
            conditions.append(MedicalRecord.policy_number == policy_number)
        if not conditions:
            return None
        stmt = (
            select(MedicalRecord.account_id)
            .where(or_(*conditions))
            .order_by(MedicalRecord.id)
            .limit(2)
        )
        found = list((await self.session.execute(stmt)).scalars())
        # Two records answering the same number would be a data error: refuse to guess.
        return found[0] if len(found) == 1 else None

    async def find(self, api_client_id: int, report_identifier: str) -> LabResult | None:
        """The stored report (locked for update where the database can) or None."""
        stmt = (
            select(LabResult)
            .where(
                LabResult.api_client_id == api_client_id,
                LabResult.report_identifier == report_identifier,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, result: LabResult, observations: Sequence[LabObservation]) -> LabResult:
        """Store a new result with its analytes (positions and repeated fields are set here)."""
        self.session.add(result)
        await self.session.flush()
        self._attach(result, observations)
        await self.session.flush()
        return result

    async def replace_observations(
        self, result: LabResult, observations: Sequence[LabObservation]
    ) -> None:
        """Drop the result's analytes and store these instead (the result row is kept)."""
        await self.session.execute(
            delete(LabObservation).where(LabObservation.result_id == result.id)
        )
        self._attach(result, observations)
        await self.session.flush()

    def _attach(self, result: LabResult, observations: Sequence[LabObservation]) -> None:
        for position, observation in enumerate(observations):
            observation.result_id = result.id
            observation.account_id = result.account_id
            observation.issued_at = result.issued_at
            observation.position = position
            self.session.add(observation)

    async def observations(self, result_id: int) -> list[LabObservation]:
        stmt = (
            select(LabObservation)
            .where(LabObservation.result_id == result_id)
            .order_by(LabObservation.position)
        )
        return list((await self.session.execute(stmt)).scalars())


class TokenUseRepo(Repo):
    """Token ids (JWT ``jti``) already used, kept until their tokens expire."""

    async def seen(self, client_id: int, jti: str) -> bool:
        stmt = select(ApiTokenUse.id).where(
            ApiTokenUse.client_id == client_id, ApiTokenUse.jti == jti
        )
        return (await self.session.execute(stmt)).first() is not None

    async def spend(self, client_id: int, jti: str, expires_at: datetime, now: datetime) -> None:
        """Record the token as used; the unique (client, jti) refuses a second one at flush."""
        self.session.add(
            ApiTokenUse(client_id=client_id, jti=jti, expires_at=expires_at, used_at=now)
        )
        await self.session.flush()

    async def forget_expired(self, client_id: int, before: datetime) -> None:
        """Tokens that expired before `before` can't be replayed anyway: drop their ids."""
        await self.session.execute(
            delete(ApiTokenUse).where(
                ApiTokenUse.client_id == client_id, ApiTokenUse.expires_at < before
            )
        )
