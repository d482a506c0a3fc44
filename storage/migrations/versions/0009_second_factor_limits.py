"""sign_in_attempts: the rows the sign-in limits count

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Wrong passwords, wrong one-time and authenticator codes (every purpose and
channel) and recovery requests, one row each, counted in a time window per
account, per login that names no account and per Telegram account
(services.identity.limits). Each of the three counts is one range of an index
led by what it counts by.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("login_digest", sa.String(length=64), nullable=True),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_sign_in_attempts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index("ix_sign_in_attempts_account", "sign_in_attempts", ["account_id", "kind", "at"])
    op.create_index("ix_sign_in_attempts_login", "sign_in_attempts", ["login_digest", "kind", "at"])
    op.create_index(
        "ix_sign_in_attempts_telegram", "sign_in_attempts", ["telegram_user_id", "kind", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempts_telegram", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_login", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_account", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
