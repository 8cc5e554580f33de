"""The audit trail as an append-only hash chain, carrying the full record; break-glass reviews.

Every audit event gets `seq` (gapless) and `hash`: SHA-256 over the previous event's hash and the
event's canonical text (`audit_event_canonical`). `audit_append(events)` takes both from the one row
of `audit_chain_head`, locked with SELECT ... FOR UPDATE in the writing transaction, so concurrent
writers take turns and the chain has neither gaps nor forks. The application's role appends only
through `audit_append`, which runs as its owner, and reads its own organisation's events; a trigger
refuses UPDATE, DELETE and TRUNCATE of events for every role, except a DELETE of the chain's first
events by the retention purge, which names the last seq it removes in the transaction-local setting
`app.audit_purge_through` and leaves an anchor row.

Events also carry the actor's name, the person the data is about, the data classes disclosed and
the source systems asked, lifted from `details` for events written before.

Revision ID: 0006_audit_chain
Revises: 0005_crisis_plan
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_audit_chain"
down_revision: str | None = "0005_crisis_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"
TENANT = "current_setting('app.org', true)"
GENESIS = "repeat('0', 64)"

# The canonical text an event's hash covers. Changing it breaks every hash already written: a new
# form would need a new function and a marker of which form each event used.
CANONICAL = """
CREATE FUNCTION audit_event_canonical(event audit_event) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_array(
    event.seq,
    to_char(event.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    event.id, event.action, event.outcome, event.reason,
    event.actor_user_id, event.actor_name, event.actor_role, event.actor_organisation_code,
    event.purpose, event.person_id, event.incident_id, event.token_jti, event.route,
    event.request_id, event.data_classes, event.source_systems, event.details
  )::text
$$
"""

HASH = "encode(sha256(convert_to({prev} || audit_event_canonical({event}), 'UTF8')), 'hex')"

# One call, one round trip, however many events: lock the head, chain each event on, move the head.
# In READ COMMITTED, FOR UPDATE waits for a writer holding the head and then reads the head as that
# writer committed it; the lock is held until this transaction ends. It runs as its owner (SECURITY
# DEFINER), so the application's role appends only through it: it may neither insert an event nor
# move the head itself.
APPEND = f"""
CREATE FUNCTION audit_append(events jsonb) RETURNS bigint
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
    event.hash := {HASH.format(prev="head_hash", event="event")};
    INSERT INTO audit_event SELECT (event).*;
    head_hash := event.hash;
  END LOOP;
  UPDATE audit_chain_head SET seq = head_seq, hash = head_hash;
  RETURN head_seq;
END
$$
"""  # noqa: S608 - built from this file's constants only

# Chains the events written before this revision, oldest first.
BACKFILL = f"""
DO $$
DECLARE
  head_seq bigint := 0;
  head_hash text := {GENESIS};
  event audit_event;
BEGIN
  FOR event IN SELECT * FROM audit_event ORDER BY occurred_at, id LOOP
    head_seq := head_seq + 1;
    event.seq := head_seq;
    event.prev_hash := head_hash;
    event.hash := {HASH.format(prev="head_hash", event="event")};
    UPDATE audit_event SET seq = event.seq, prev_hash = event.prev_hash, hash = event.hash
      WHERE id = event.id;
    head_hash := event.hash;
  END LOOP;
  INSERT INTO audit_chain_head (id, seq, hash) VALUES (true, head_seq, head_hash);
END
$$
"""  # noqa: S608 - built from this file's constants only

APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger
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

REFUSE_CHANGE = """
CREATE FUNCTION audit_chain_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% of % refused: the audit chain is append-only', lower(TG_OP), TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

TRIGGERS = [
    (
        "audit_event_append_only",
        "BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW",
        "audit_event_append_only",
    ),
    (
        "audit_event_no_truncate",
        "BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT",
        "audit_chain_refuse_change",
    ),
    # The head is moved by every append, and never added to or removed.
    (
        "audit_chain_head_single",
        "BEFORE INSERT OR DELETE ON audit_chain_head FOR EACH ROW",
        "audit_chain_refuse_change",
    ),
    (
        "audit_chain_head_no_truncate",
        "BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT",
        "audit_chain_refuse_change",
    ),
    (
        "audit_chain_anchor_append_only",
        "BEFORE UPDATE OR DELETE ON audit_chain_anchor FOR EACH ROW",
        "audit_chain_refuse_change",
    ),
    (
        "audit_chain_anchor_no_truncate",
        "BEFORE TRUNCATE ON audit_chain_anchor FOR EACH STATEMENT",
        "audit_chain_refuse_change",
    ),
]


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _jsonb_list(name: str) -> sa.Column[object]:
    # The default only fills the rows already there; the application always writes the column.
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
        server_default=sa.text("'[]'::jsonb"),
    )


def upgrade() -> None:
    for column in (
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        _jsonb_list("data_classes"),
        _jsonb_list("source_systems"),
    ):
        op.add_column("audit_event", column)
    for name in ("data_classes", "source_systems"):
        op.alter_column("audit_event", name, server_default=None)

    # What earlier events kept in details, in the columns now made for it.
    op.execute(
        "UPDATE audit_event SET person_id = (details ->> 'person_id')::uuid,"
        " details = details - 'person_id' WHERE details ? 'person_id'"
    )
    op.execute(
        "UPDATE audit_event SET data_classes = details -> 'data_classes',"
        " details = details - 'data_classes'"
        " WHERE jsonb_typeof(details -> 'data_classes') = 'array'"
    )
    op.execute(
        "UPDATE audit_event SET source_systems = (SELECT coalesce(jsonb_agg(name ORDER BY name),"
        " '[]') FROM jsonb_object_keys(details -> 'sources') AS name)"
        " WHERE jsonb_typeof(details -> 'sources') = 'object'"
    )

    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_chain_anchor",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("events_purged", sa.BigInteger(), nullable=False),
        _timestamp("occurred_before"),
        _timestamp("purged_at"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_chain_anchor")),
    )

    op.execute(CANONICAL)
    op.execute(BACKFILL)
    for name in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_event", name, nullable=False)
    op.create_unique_constraint("uq_audit_event_seq", "audit_event", ["seq"])
    op.drop_index("ix_audit_event_actor_organisation_code", table_name="audit_event")
    op.create_index(
        "ix_audit_event_actor_organisation_code_seq",
        "audit_event",
        ["actor_organisation_code", "seq"],
    )
    op.create_index(
        "ix_audit_event_person_id",
        "audit_event",
        ["person_id"],
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )
    op.create_index(
        "ix_audit_event_details_person_ids",
        "audit_event",
        [sa.text("(details -> 'person_ids')")],
        postgresql_using="gin",
        postgresql_where=sa.text("details ? 'person_ids'"),
    )

    op.execute(APPEND)
    op.execute(APPEND_ONLY)
    op.execute(REFUSE_CHANGE)
    for name, when, function in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")

    # The application appends through audit_append and reads; it never writes the chain itself.
    op.execute(f"REVOKE INSERT ON audit_event FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON audit_chain_head, audit_chain_anchor TO {APP_ROLE}")
    op.execute("REVOKE EXECUTE ON FUNCTION audit_append(jsonb) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION audit_append(jsonb) TO {APP_ROLE}")
    # The application's role reads only its own organisation's events. Not forced: the schema
    # owner (refusals written after a rollback, `triage audit verify`, the purge) sees them all.
    op.execute("ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY audit_event_read ON audit_event FOR SELECT"
        f" USING (actor_organisation_code = {TENANT})"
    )

    op.add_column("break_glass_review", _timestamp("reviewed_at", nullable=True))
    op.add_column("break_glass_review", sa.Column("reviewed_by", sa.Uuid(), nullable=True))
    op.add_column(
        "break_glass_review", sa.Column("reviewer_name", sa.String(length=200), nullable=True)
    )
    op.add_column(
        "break_glass_review", sa.Column("conclusion", sa.String(length=12), nullable=True)
    )
    op.add_column("break_glass_review", sa.Column("finding", sa.String(length=2000), nullable=True))
    op.create_foreign_key(
        op.f("fk_break_glass_review_reviewed_by_user_account"),
        "break_glass_review",
        "user_account",
        ["reviewed_by"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_break_glass_review_conclusion"),
        "break_glass_review",
        "conclusion IS NULL OR conclusion IN ('justified', 'unjustified')",
    )
    op.create_check_constraint(
        op.f("ck_break_glass_review_reviewed_in_full"),
        "break_glass_review",
        "(status = 'reviewed') = (reviewed_at IS NOT NULL AND reviewed_by IS NOT NULL"
        " AND reviewer_name IS NOT NULL AND conclusion IS NOT NULL AND finding IS NOT NULL)",
    )
    op.create_index(
        "ix_break_glass_review_organisation_code_status_created_at",
        "break_glass_review",
        ["organisation_code", "status", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_break_glass_review_organisation_code_status_created_at",
        table_name="break_glass_review",
    )
    op.drop_constraint(
        op.f("ck_break_glass_review_reviewed_in_full"), "break_glass_review", type_="check"
    )
    op.drop_constraint(
        op.f("ck_break_glass_review_conclusion"), "break_glass_review", type_="check"
    )
    op.drop_constraint(
        op.f("fk_break_glass_review_reviewed_by_user_account"),
        "break_glass_review",
        type_="foreignkey",
    )
    for name in ("finding", "conclusion", "reviewer_name", "reviewed_by", "reviewed_at"):
        op.drop_column("break_glass_review", name)

    op.execute(f"GRANT INSERT ON audit_event TO {APP_ROLE}")
    op.execute("DROP POLICY IF EXISTS audit_event_read ON audit_event")
    op.execute("ALTER TABLE audit_event DISABLE ROW LEVEL SECURITY")
    for name, when, _ in TRIGGERS:
        table = when.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS audit_chain_refuse_change()")
    op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    op.execute("DROP FUNCTION IF EXISTS audit_append(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS audit_event_canonical(audit_event)")

    # Back into details, where the earlier revision kept them.
    op.execute(
        "UPDATE audit_event SET details = details || jsonb_build_object('person_id', person_id)"
        " WHERE person_id IS NOT NULL"
    )
    op.execute(
        "UPDATE audit_event SET details = details || jsonb_build_object('data_classes', data_classes)"
        " WHERE data_classes <> '[]'::jsonb"
    )
    op.drop_index("ix_audit_event_details_person_ids", table_name="audit_event")
    op.drop_index("ix_audit_event_person_id", table_name="audit_event")
    op.drop_index("ix_audit_event_actor_organisation_code_seq", table_name="audit_event")
    op.create_index(
        "ix_audit_event_actor_organisation_code", "audit_event", ["actor_organisation_code"]
    )
    op.drop_constraint("uq_audit_event_seq", "audit_event", type_="unique")
    for name in (
        "source_systems",
        "data_classes",
        "person_id",
        "actor_name",
        "hash",
        "prev_hash",
        "seq",
    ):
        op.drop_column("audit_event", name)
    op.drop_table("audit_chain_anchor")
    op.drop_table("audit_chain_head")
