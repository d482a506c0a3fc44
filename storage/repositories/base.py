"""The base of every repository: a session; flush when ids are needed, never commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


class Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
