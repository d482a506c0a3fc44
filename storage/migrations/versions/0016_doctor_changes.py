"""Doctors' changes to a card and extracts sent to a colleague

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

A doctor's note on a card (a treatment plan or an anamnesis) is kept in
«Посещения врачей» with its kind (``record_visits.note_kind``). A signed PDF a
doctor sends to a colleague is kept as it was sent, with the covering note, in
``colleague_extracts`` («Входящие выписки» of the recipient).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("record_visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note_kind", sa.String(length=16), nullable=True))
    op.create_table(
        "colleague_extracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_account_id", sa.Integer(), nullable=False),
        sa.Column("sender_staff_id", sa.Integer(), nullable=False),
        sa.Column("recipient_staff_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "content IN ('extract', 'conclusion')", name=op.f("ck_colleague_extracts_content")
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_colleague_extracts_patient_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_colleague_extracts_sender_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_colleague_extracts_recipient_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["record_documents.id"],
            name=op.f("fk_colleague_extracts_document_id_record_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_colleague_extracts")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_colleague_extracts_storage_key")),
    )
    op.create_index(
        op.f("ix_colleague_extracts_patient_account_id"),
        "colleague_extracts",
        ["patient_account_id"],
        unique=False,
    )
    op.create_index(
        "ix_colleague_extracts_recipient",
        "colleague_extracts",
        ["recipient_staff_id", "sent_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_colleague_extracts_recipient", table_name="colleague_extracts")
    op.drop_index(op.f("ix_colleague_extracts_patient_account_id"), table_name="colleague_extracts")
    op.drop_table("colleague_extracts")
    with op.batch_alter_table("record_visits", schema=None) as batch_op:
        batch_op.drop_column("note_kind")
