"""Repositories: API clients (laboratories and other systems that call in).

They flush when they need ids and never commit.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import ApiClient
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


class LabReportRepo(Repo):
    """Reports laboratories send: found by (laboratory, report id), stored with their analytes."""


class TokenUseRepo(Repo):
    """Token ids (JWT ``jti``) already used, kept until their tokens expire."""
