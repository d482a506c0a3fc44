"""Migration stairway: every revision goes up, down and up again; head matches the models.

The revisions are read from the script directory, so new ones are covered as they come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base
from tests.conftest import PgServer


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no migrations applied) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.create()
    yield url
    server.drop(url)


def _revisions(url: str) -> list[Script]:
    """All revisions from base to head, oldest first (a single linear history)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    assert len(script.get_heads()) == 1, "migrations must have one head"
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def _inspect(url: str, func: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(func)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_stairway(blank_database_url: str) -> None:
    url = blank_database_url
    revisions = _revisions(url)
    assert revisions, "no migrations found"

    for revision in revisions:
        upgrade(url, revision.revision)
        downgrade(url, revision.down_revision or "base")  # type: ignore[arg-type]
        upgrade(url, revision.revision)

    downgrade(url, "base")
    assert _inspect(url, _tables) <= {"alembic_version"}

    upgrade(url, "head")
    assert _inspect(url, _tables) == set(Base.metadata.tables) | {"alembic_version"}
    assert _inspect(url, _schema_diff) == []
