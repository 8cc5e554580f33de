"""The audit trail as a transparency log: appends without a shared lock, a Merkle tree sealed
behind them, signed checkpoints, partners' checkpoints witnessed.

`audit_append` no longer locks a chain head: it numbers events from a sequence (`seq`: the order
written, with gaps where a transaction rolled back) and stamps the writing transaction's id
(`xact_id`), so writers never wait for one another. The sealer (`api/audit/sealer.py`) integrates
committed events into the tree in RFC 9162 hashing: `audit_leaf` (leaf index, event, leaf hash),
`audit_tree_node` (the perfect subtrees above the leaves, for proofs), `audit_tree_state` (tree
size and the transaction horizon below which every event is sealed), `audit_checkpoint` (each
signed tree head). `audit_witness_checkpoint` keeps the partners' checkpoints this organisation
verified and cosigned; `audit_log_purge` records where the retention purge has removed events
while their leaf hashes stay.

The events already chained become the first leaves, in chain order, with the same canonical
text (`audit_event_canonical`) as their entry, at the sealer's first run: their `xact_id` is 0,
below any transaction's. Their `prev_hash` and `hash` stay as written; new events have none. The
chain head goes; the retention anchors of the chain stay, as history.

Revision ID: 0014_audit_transparency_log
Revises: 0013_browser_sign_in
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0014_audit_transparency_log"
down_revision: str | None = "0013_browser_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"

# No lock: the sequence and the transaction id are all an append takes from anything shared.
APPEND = """
CREATE OR REPLACE FUNCTION audit_append(events jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  writer bigint := pg_current_xact_id()::text::bigint;
  last_seq bigint := 0;
  event audit_event;
BEGIN
  FOR event IN
    SELECT item.* FROM jsonb_array_elements(events) WITH ORDINALITY AS given(value, position),
      jsonb_populate_record(NULL::audit_event, given.value) AS item
    ORDER BY given.position
  LOOP
    event.seq := nextval('audit_event_seq');
    event.xact_id := writer;
    event.prev_hash := NULL;
    event.hash := NULL;
    INSERT INTO audit_event SELECT (event).*;
    last_seq := event.seq;
  END LOOP;
  RETURN last_seq;
END
$$
"""

# The purge removes events whose leaf is below the transaction-local `app.audit_purge_before`;
# their leaf hashes stay, so the tree and every proof still verify.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (
    SELECT 1 FROM audit_leaf WHERE event_id = OLD.id AND leaf_index <
      coalesce(nullif(current_setting('app.audit_purge_before', true), ''), '0')::bigint
  ) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: % refused', lower(TG_OP)
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Only the retention purge removes events, once sealed, from the start of the log.';
END
$$
"""

# As written by 0006, for the downgrade.
CHAIN_APPEND = """
CREATE OR REPLACE FUNCTION audit_append(events jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head_seq bigint;
  head_hash text;
  event audit_event;
BEGIN
  SELECT seq, hash INTO STRICT head_seq, head_hash FROM audit_chain_head FOR UPDATE;
  FOR event IN
    SELECT item.* FROM jsonb_array_elements(events) WITH ORDINALITY AS given(value, position),
      jsonb_populate_record(NULL::audit_event, given.value) AS item
    ORDER BY given.position
  LOOP
    head_seq := head_seq + 1;
    event.seq := head_seq;
    event.prev_hash := head_hash;
    event.hash := encode(sha256(convert_to(head_hash || audit_event_canonical(event), 'UTF8')),
      'hex');
    INSERT INTO audit_event SELECT (event).*;
    head_hash := event.hash;
  END LOOP;
  UPDATE audit_chain_head SET seq = head_seq, hash = head_hash;
  RETURN head_seq;
END
$$
"""

CHAIN_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.seq <= coalesce(nullif(current_setting('app.audit_purge_through', true), ''), '0')::bigint
    THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: % refused', lower(TG_OP)
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Only the retention purge removes events, from the start of the chain.';
END
$$
"""

# Down to the chain: the events written since are chained on after the last chained one, in seq
# order, renumbered gaplessly (their seq is in the text they are hashed over, so first).
RECHAIN = """
DO $$
DECLARE
  head_seq bigint;
  head_hash text;
  event audit_event;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit_event WHERE hash IS NOT NULL
    ORDER BY seq DESC LIMIT 1;
  IF head_seq IS NULL THEN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_anchor ORDER BY seq DESC LIMIT 1;
  END IF;
  head_seq := coalesce(head_seq, 0);
  head_hash := coalesce(head_hash, repeat('0', 64));
  FOR event IN SELECT * FROM audit_event WHERE hash IS NULL ORDER BY seq LOOP
    head_seq := head_seq + 1;
    UPDATE audit_event SET seq = head_seq WHERE id = event.id;
    event.seq := head_seq;
    event.prev_hash := head_hash;
    event.hash := encode(sha256(convert_to(head_hash || audit_event_canonical(event), 'UTF8')),
      'hex');
    UPDATE audit_event SET prev_hash = event.prev_hash, hash = event.hash WHERE id = event.id;
    head_hash := event.hash;
  END LOOP;
  INSERT INTO audit_chain_head (id, seq, hash) VALUES (true, head_seq, head_hash);
END
$$
"""

REFUSE_CHANGE = "audit_chain_refuse_change"

# (trigger, table, when): every new table is append-only; the state row is moved, never added to.
TRIGGERS = [
    ("audit_leaf_append_only", "audit_leaf", "BEFORE UPDATE OR DELETE"),
    ("audit_tree_node_append_only", "audit_tree_node", "BEFORE UPDATE OR DELETE"),
    ("audit_checkpoint_append_only", "audit_checkpoint", "BEFORE UPDATE OR DELETE"),
    ("audit_log_purge_append_only", "audit_log_purge", "BEFORE UPDATE OR DELETE"),
    ("audit_witness_checkpoint_append_only", "audit_witness_checkpoint", "BEFORE UPDATE OR DELETE"),
    ("audit_tree_state_single", "audit_tree_state", "BEFORE INSERT OR DELETE"),
]
TABLES = (
    "audit_leaf",
    "audit_tree_node",
    "audit_checkpoint",
    "audit_log_purge",
    "audit_witness_checkpoint",
    "audit_tree_state",
)

HEAD_TRIGGERS = [
    ("audit_chain_head_single", "BEFORE INSERT OR DELETE ON audit_chain_head FOR EACH ROW"),
    ("audit_chain_head_no_truncate", "BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT"),
]


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # The events already written get 0 by the column's default (no UPDATE: they are append-only);
    # the default goes, as `audit_append` always writes it.
    op.add_column(
        "audit_event",
        sa.Column("xact_id", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.alter_column("audit_event", "xact_id", server_default=None)
    op.alter_column("audit_event", "prev_hash", nullable=True)
    op.alter_column("audit_event", "hash", nullable=True)
    op.create_index("ix_audit_event_xact_id_seq", "audit_event", ["xact_id", "seq"])
    op.execute("CREATE SEQUENCE audit_event_seq AS bigint OWNED BY audit_event.seq")
    op.execute(
        "SELECT setval('audit_event_seq', coalesce((SELECT max(seq) FROM audit_event), 0) + 1,"
        " false)"
    )

    op.create_table(
        "audit_leaf",
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        _timestamp("sealed_at"),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaf")),
        sa.UniqueConstraint("event_id", name="uq_audit_leaf_event_id"),
    )
    op.create_table(
        "audit_tree_node",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("index", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_audit_tree_node")),
    )
    op.create_table(
        "audit_tree_state",
        sa.Column("id", sa.Boolean(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("xact_horizon", sa.BigInteger(), nullable=False),
        _timestamp("sealed_at"),
        sa.CheckConstraint("id", name=op.f("ck_audit_tree_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_state")),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _timestamp("signed_at"),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoint")),
    )
    op.create_table(
        "audit_log_purge",
        sa.Column("leaves_before", sa.BigInteger(), nullable=False),
        sa.Column("events_purged", sa.BigInteger(), nullable=False),
        _timestamp("occurred_before"),
        _timestamp("purged_at"),
        sa.PrimaryKeyConstraint("leaves_before", name=op.f("pk_audit_log_purge")),
    )
    op.create_table(
        "audit_witness_checkpoint",
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _timestamp("witnessed_at"),
        sa.PrimaryKeyConstraint("origin", "tree_size", name=op.f("pk_audit_witness_checkpoint")),
    )
    op.execute(
        "INSERT INTO audit_tree_state (id, tree_size, xact_horizon, sealed_at)"
        " VALUES (true, 0, 0, now())"
    )

    op.execute(APPEND)
    op.execute(APPEND_ONLY)
    for name, table, when in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW"
            f" EXECUTE FUNCTION {REFUSE_CHANGE}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_CHANGE}()"
        )
    # Requests read the tree for proofs and checkpoints; only the sealer (the owner) writes it.
    op.execute(f"GRANT SELECT ON {', '.join(TABLES)} TO {APP_ROLE}")

    for name, _ in HEAD_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON audit_chain_head")
    op.drop_table("audit_chain_head")


def downgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    op.execute(RECHAIN)
    op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    for name, when in HEAD_TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {REFUSE_CHANGE}()")
    op.execute(f"GRANT SELECT ON audit_chain_head TO {APP_ROLE}")
    op.execute(CHAIN_APPEND)
    op.execute(CHAIN_APPEND_ONLY)

    for name, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP SEQUENCE audit_event_seq")
    op.drop_index("ix_audit_event_xact_id_seq", table_name="audit_event")
    op.alter_column("audit_event", "hash", nullable=False)
    op.alter_column("audit_event", "prev_hash", nullable=False)
    op.drop_column("audit_event", "xact_id")
