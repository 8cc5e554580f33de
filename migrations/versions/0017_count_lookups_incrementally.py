"""A crisis flag lookup adds one to its incident's count of lookups instead of recomputing the
incident's whole fact.

0016's trigger refreshed the incident's row of `incident_fact` from `incident_fact_source` on every
lookup: the view's every subquery (the assessment's flags, the subjects, a count of every lookup the
incident has had) for a figure that only ever goes up by one. The lookup is the path an officer
waits on, and the refresh was most of the database's work for it. The count stays exact: a
lookup's row is only ever inserted here (the purge deletes lookups and keeps their count in
`outcome_statistic`), and the update holds the fact's row while it adds. An incident whose fact
row is missing or not visible gets the full refresh, as before.

Revision ID: 0017_count_lookups_incrementally
Revises: 0016_report_lookups
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_count_lookups_incrementally"
down_revision: str | None = "0016_report_lookups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_LOOKUP = """
CREATE FUNCTION incident_fact_count_lookup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE incident_fact SET lookups = lookups + 1 WHERE incident_id = NEW.incident_id;
  IF NOT FOUND THEN
    PERFORM refresh_incident_fact(NEW.incident_id);
  END IF;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(COUNT_LOOKUP)
    op.execute("DROP TRIGGER flag_lookup_fact_refresh ON flag_lookup")
    op.execute(
        "CREATE TRIGGER flag_lookup_fact_count AFTER INSERT ON flag_lookup"
        " FOR EACH ROW EXECUTE FUNCTION incident_fact_count_lookup()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER flag_lookup_fact_count ON flag_lookup")
    op.execute("DROP FUNCTION incident_fact_count_lookup()")
    op.execute(
        "CREATE TRIGGER flag_lookup_fact_refresh AFTER INSERT ON flag_lookup"
        " FOR EACH ROW EXECUTE FUNCTION incident_fact_refresh()"
    )
