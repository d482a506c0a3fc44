"""Relatives: wrong one-time codes counted over the whole invitation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

A relative's code allows five tries, and a new code could be asked every
minute for the seven days of the link: tens of thousands of guesses. The wrong
codes of an invitation are now counted across its codes (``code_failures``);
ten void the link, as three wrong phones do, and the patient is told.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("code_failures", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.drop_column("code_failures")
