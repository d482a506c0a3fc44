"""fsm_records.key collated "C" on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

An update reads a conversation's records with one range scan of the primary
key (``key >= prefix AND key < prefix_upper``, storage.fsm). Under a
linguistic collation (en_US.UTF-8, ICU) a range of strings is not a prefix,
so storage.fsm compares with ``COLLATE "C"``; the primary key index serves
that comparison only when the column itself is collated "C". SQLite compares
bytes already and needs nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "fsm_records",
            "key",
            type_=sa.String(255, collation="C"),
            existing_type=sa.String(255),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "fsm_records",
            "key",
            type_=sa.String(255),
            existing_type=sa.String(255, collation="C"),
            existing_nullable=False,
        )
