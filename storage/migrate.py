"""Running Alembic from code (the `migrate` command, the demo and the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(url: str, revision: str = "head", *, audit_key: bytes | None = None) -> None:
    """Upgrade to `revision`. `audit_key` (AUDIT_KEY) seals journal rows a migration chains
    (0007 chains the rows written before it); a database with none needs no key."""
    config = alembic_config(url)
    if audit_key:
        config.attributes["audit_key"] = audit_key
    command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(
    url: str, revision: str = "head", *, audit_key: bytes | None = None
) -> None:
    """Upgrade from inside a running event loop (env.py runs its own loop)."""
    await asyncio.to_thread(lambda: upgrade(url, revision, audit_key=audit_key))
