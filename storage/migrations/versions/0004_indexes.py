"""Indexes for the queries that scanned whole tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

- telegram_bindings by account_id (every push finds the account's chats) and by
  chat_id (a blocked chat is marked on its bindings);
- applications:
  ``ix_applications_waiting`` (submitted_at, id, status) of the waiting ones
  (accepted, in work), oldest first: the processor's next claim is its first
  free entry, "how many are ahead" one range of it. It replaces
  ``ix_applications_queue`` (status, submitted_at): an index led by the status
  made SQLite (which has no statistics) pick it for the claim and sort;
  ``ix_applications_decided`` (processed_at, id) of the decided ones: the last
  N durations behind the wait estimate are read newest first, N rows.

The partial indexes' conditions are the very terms the repository queries use
(storage.repositories.enrolment): SQLite uses a partial index only then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING_WHERE = "status IN ('accepted', 'in_work')"
DECIDED_WHERE = "processed_at IS NOT NULL AND processing_started_at IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_telegram_bindings_account_id", "telegram_bindings", ["account_id"])
    op.create_index("ix_telegram_bindings_chat_id", "telegram_bindings", ["chat_id"])

    op.create_index(
        "ix_applications_waiting",
        "applications",
        ["submitted_at", "id", "status"],
        sqlite_where=sa.text(WAITING_WHERE),
        postgresql_where=sa.text(WAITING_WHERE),
    )
    op.drop_index("ix_applications_queue", table_name="applications")
    op.create_index(
        "ix_applications_decided",
        "applications",
        ["processed_at", "id"],
        sqlite_where=sa.text(DECIDED_WHERE),
        postgresql_where=sa.text(DECIDED_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_applications_decided", table_name="applications")
    op.create_index("ix_applications_queue", "applications", ["status", "submitted_at"])
    op.drop_index("ix_applications_waiting", table_name="applications")

    op.drop_index("ix_telegram_bindings_chat_id", table_name="telegram_bindings")
    op.drop_index("ix_telegram_bindings_account_id", table_name="telegram_bindings")
