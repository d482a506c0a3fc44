"""access: relatives' grants, organisations, staff, attachments, step-ups, API clients

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Adds what services.core.access reads to decide who may do what with whose
data, and the permission and basis of each decision to the audit journal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permission", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("basis", sa.String(length=32), nullable=True))

    op.create_table(
        "relative_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("relative_phone", sa.String(length=16), nullable=False),
        sa.Column("relative_telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("relative_account_id", sa.Integer(), nullable=True),
        sa.Column("relationship", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("include_sensitive", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "level IN ('view', 'view_download', 'full')", name=op.f("ck_relative_grants_level")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'revoked')", name=op.f("ck_relative_grants_status")
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_relative_grants_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relative_account_id"],
            ["accounts.id"],
            name=op.f("fk_relative_grants_relative_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relative_grants")),
    )
    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relative_grants_patient_phone",
            ["patient_account_id", "relative_phone"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_relative_grants_relative_account_id"),
            ["relative_account_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_relative_grants_relative_telegram_user_id"),
            ["relative_telegram_user_id"],
            unique=False,
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("ogrn", sa.String(length=13), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("ogrn", name=op.f("uq_organisations_ogrn")),
    )

    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('doctor', 'org_admin')", name=op.f("ck_staff_members_role")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_staff_members_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_staff_members_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint(
            "account_id", "organisation_id", "role", name=op.f("uq_staff_members_account_id")
        ),
    )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_members_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "patient_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_patient_attachments_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_patient_attachments_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_attachments")),
    )
    with op.batch_alter_table("patient_attachments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_attachments_patient_org",
            ["patient_account_id", "organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patient_attachments_organisation_id"),
            ["organisation_id"],
            unique=False,
        )

    op.create_table(
        "doctor_step_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_doctor_step_ups_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_doctor_step_ups_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_step_ups")),
    )
    with op.batch_alter_table("doctor_step_ups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_doctor_step_ups_staff_patient",
            ["staff_id", "patient_account_id", "expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_doctor_step_ups_patient_account_id"),
            ["patient_account_id"],
            unique=False,
        )

    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
    )


def downgrade() -> None:
    op.drop_table("api_clients")

    with op.batch_alter_table("doctor_step_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doctor_step_ups_patient_account_id"))
        batch_op.drop_index("ix_doctor_step_ups_staff_patient")
    op.drop_table("doctor_step_ups")

    with op.batch_alter_table("patient_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_attachments_organisation_id"))
        batch_op.drop_index("ix_patient_attachments_patient_org")
    op.drop_table("patient_attachments")

    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_members_organisation_id"))
    op.drop_table("staff_members")

    op.drop_table("organisations")

    with op.batch_alter_table("relative_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relative_grants_relative_telegram_user_id"))
        batch_op.drop_index(batch_op.f("ix_relative_grants_relative_account_id"))
        batch_op.drop_index("ix_relative_grants_patient_phone")
    op.drop_table("relative_grants")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("basis")
        batch_op.drop_column("permission")
