"""update_inbox: every Telegram update stored before it is acknowledged, handled once

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

The bot writes each update it receives (sealed) before it tells Telegram the
update arrived, handles it, then marks it done and drops the payload; the unique
(bot_id, update_id) turns a second delivery of the same update into a no-op.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "update_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_inbox")),
        sa.UniqueConstraint("bot_id", "update_id", name=op.f("uq_update_inbox_bot_id")),
    )
    op.create_index(
        "ix_update_inbox_pending",
        "update_inbox",
        ["bot_id", "done_at", "update_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_update_inbox_pending", table_name="update_inbox")
    op.drop_table("update_inbox")
