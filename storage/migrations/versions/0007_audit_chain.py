"""audit_log: a hash chain, its head row, and triggers that refuse UPDATE and DELETE

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Each journal row gets `seq` (1, 2, 3 … in the order of appending), `prev_hash`
(the hash of row `seq - 1`) and `hash` (an HMAC over the row and `prev_hash`,
keyed with AUDIT_KEY, see storage.repositories.core.chain_digest). The one row
of `audit_head` holds the last `seq` and hash; appending locks it. Rows already
there are chained here in the order of their ids, with the key the application
uses (the Alembic attribute ``audit_key``, which storage.migrate.upgrade sets
from AUDIT_KEY or DATA_DIR/audit.key as the commands read them).

A trigger refuses UPDATE and DELETE on audit_log (and TRUNCATE on PostgreSQL),
also through the application's own connection. Whoever may disable triggers
(the table's owner) can still get round it: `python -m bot audit verify` then
names the first row changed, removed or moved.

`login_events` stays: the application no longer writes it («История входов»
reads the journal), but storage.repositories.identity still maps it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from storage.models.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("actor_account_id", sa.Integer()),
    sa.column("subject_account_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("permission", sa.String()),
    sa.column("basis", sa.String()),
    sa.column("details", sa.JSON()),
)
_head = sa.table("audit_head", sa.column("id", sa.Integer()), sa.column("seq"), sa.column("hash"))

_PG_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is refused'); END",
)


def _key() -> bytes:
    """The journal's key, passed in by storage.migrate.upgrade(audit_key=...)."""
    given = context.config.attributes.get("audit_key")
    if not given:
        raise RuntimeError(
            "audit rows written before 0007 must be sealed with AUDIT_KEY: "
            "run the migration through `python -m bot migrate`"
        )
    return bytes(given)


def _chain_existing() -> tuple[int, str]:
    """Number and seal the rows already there, in the order of their ids."""
    from storage.models import AuditEntry
    from storage.repositories.core import chain_digest

    bind = op.get_bind()
    rows = bind.execute(sa.select(_audit).order_by(_audit.c.id)).mappings().all()
    if not rows:
        return 0, GENESIS
    key = _key()
    seq, prev = 0, GENESIS
    for row in rows:
        entry = AuditEntry(
            at=row["at"],
            actor=row["actor"],
            actor_account_id=row["actor_account_id"],
            subject_account_id=row["subject_account_id"],
            action=row["action"],
            outcome=row["outcome"],
            permission=row["permission"],
            basis=row["basis"],
            details=row["details"],
        )
        seq += 1
        digest = chain_digest(key, entry, prev)
        bind.execute(
            sa.update(_audit)
            .where(_audit.c.id == row["id"])
            .values(seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest
    return seq, prev


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    last_seq, last_hash = _chain_existing()
    op.execute(sa.insert(_head).values(id=1, seq=last_seq, hash=last_hash))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
        batch_op.create_index("ix_audit_log_subject_seq", ["subject_account_id", "seq"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_subject_seq")
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

    op.drop_table("audit_head")
