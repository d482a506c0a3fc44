"""A relative's chat message keeps the grant it was written under

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

The doctor's answer is pushed to the relative who asked on the patient's behalf,
while their access still allows writing to a doctor; the grant names them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_grant_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_chat_messages_author_grant_id_relative_grants"),
            "relative_grants",
            ["author_grant_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_chat_messages_author_grant_id_relative_grants"), type_="foreignkey"
        )
        batch_op.drop_column("author_grant_id")
