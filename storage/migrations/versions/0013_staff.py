"""Staff accounts: who confirmed the employment, when the authenticator was enrolled

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A staff member's employment is confirmed by the organisation's administrator (or
support's command), and that is kept (``confirmed_by``). The authenticator app is
required for staff: ``totp_enrolled_at`` says when it was enrolled at sign-in and
one code from it was confirmed; until then the sign-in enrols it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enrolled_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("confirmed_by")
