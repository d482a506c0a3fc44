"""Relatives: the invitation link, accepting it, withdrawing it, asking for access again

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10

A grant keeps the invitee's name, a hash of its invitation token (unique, never
the token), when the link ends and when it was used, the tries with a wrong
phone, the relative's one-time code (an HMAC) and its tries, the consent's
version and time, the last access, and a request to open access again. Two new
states: ``withdrawn`` (the patient took the invitation back) and ``void`` (the
link was opened with another phone three times).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUS = "status IN ('pending', 'active', 'revoked')"
NEW_STATUS = "status IN ('pending', 'active', 'revoked', 'withdrawn', 'void')"
REQUEST = "access_request IN ('pending', 'allowed', 'declined')"


def upgrade() -> None:
    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("relative_name", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("token_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("wrong_phone_tries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimant_telegram_user_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("code_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("code_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("consent_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_access_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("access_request", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("access_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_relative_grants_token_hash"), ["token_hash"]
        )
        batch_op.drop_constraint(batch_op.f("ck_relative_grants_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_relative_grants_status"), NEW_STATUS)
        batch_op.create_check_constraint(batch_op.f("ck_relative_grants_access_request"), REQUEST)


def downgrade() -> None:
    # A withdrawn or void invitation was never accepted: it comes back as revoked.
    op.execute(
        "UPDATE relative_grants SET status = 'revoked' WHERE status IN ('withdrawn', 'void')"
    )
    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_relative_grants_access_request"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_relative_grants_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_relative_grants_status"), OLD_STATUS)
        batch_op.drop_constraint(batch_op.f("uq_relative_grants_token_hash"), type_="unique")
        for column in (
            "access_requested_at",
            "access_request",
            "last_access_at",
            "consented_at",
            "consent_version",
            "code_confirmed_at",
            "code_attempts",
            "code_sent_at",
            "code_hash",
            "claimant_telegram_user_id",
            "withdrawn_at",
            "wrong_phone_tries",
            "token_used_at",
            "token_expires_at",
            "token_hash",
            "relative_name",
        ):
            batch_op.drop_column(column)
