"""Room for sealed authenticator secrets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Authenticator secrets are now stored sealed with AES-GCM, which is longer than
the bare base32 secret. Secrets stored in clear before this revision do not
open: re-create those accounts' authenticators (admin create-account, or
seed-demo on a fresh demo database).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
