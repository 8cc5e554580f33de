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

# 0016's refresh, except that an existing row's `lookups` is left to the lookups' own update.
REFRESH = """
CREATE OR REPLACE FUNCTION refresh_incident_fact(target uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
  INSERT INTO incident_fact (incident_id, time_of_call_at, organisation_code, partner_trust_code,
                             call_date, triage_mode, area_code, codes, place_of_safety, conveyance,
                             seconds_at_scene, seconds_to_arrival, assessed, crisis_flag_consulted,
                             crisis_flag_changed_decision, person_ids, lookups)
  SELECT incident_id, time_of_call_at, organisation_code, partner_trust_code, call_date,
         triage_mode, area_code, codes, place_of_safety, conveyance, seconds_at_scene,
         seconds_to_arrival, assessed, crisis_flag_consulted, crisis_flag_changed_decision,
         person_ids, lookups
  FROM incident_fact_source WHERE incident_id = target
  ON CONFLICT (incident_id) DO UPDATE SET
    time_of_call_at = excluded.time_of_call_at,
    organisation_code = excluded.organisation_code,
    partner_trust_code = excluded.partner_trust_code,
    call_date = excluded.call_date,
    triage_mode = excluded.triage_mode,
    area_code = excluded.area_code,
    codes = excluded.codes,
    place_of_safety = excluded.place_of_safety,
    conveyance = excluded.conveyance,
    seconds_at_scene = excluded.seconds_at_scene,
    seconds_to_arrival = excluded.seconds_to_arrival,
    assessed = excluded.assessed,
    crisis_flag_consulted = excluded.crisis_flag_consulted,
    crisis_flag_changed_decision = excluded.crisis_flag_changed_decision,
    person_ids = excluded.person_ids
$$
"""

# 0016's refresh, as it was.
PREVIOUS_REFRESH = """
CREATE OR REPLACE FUNCTION refresh_incident_fact(target uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
  INSERT INTO incident_fact (incident_id, time_of_call_at, organisation_code, partner_trust_code,
                             call_date, triage_mode, area_code, codes, place_of_safety, conveyance,
                             seconds_at_scene, seconds_to_arrival, assessed, crisis_flag_consulted,
                             crisis_flag_changed_decision, person_ids, lookups)
  SELECT incident_id, time_of_call_at, organisation_code, partner_trust_code, call_date,
         triage_mode, area_code, codes, place_of_safety, conveyance, seconds_at_scene,
         seconds_to_arrival, assessed, crisis_flag_consulted, crisis_flag_changed_decision,
         person_ids, lookups
  FROM incident_fact_source WHERE incident_id = target
  ON CONFLICT (incident_id) DO UPDATE SET
    time_of_call_at = excluded.time_of_call_at,
    organisation_code = excluded.organisation_code,
    partner_trust_code = excluded.partner_trust_code,
    call_date = excluded.call_date,
    triage_mode = excluded.triage_mode,
    area_code = excluded.area_code,
    codes = excluded.codes,
    place_of_safety = excluded.place_of_safety,
    conveyance = excluded.conveyance,
    seconds_at_scene = excluded.seconds_at_scene,
    seconds_to_arrival = excluded.seconds_to_arrival,
    assessed = excluded.assessed,
    crisis_flag_consulted = excluded.crisis_flag_consulted,
    crisis_flag_changed_decision = excluded.crisis_flag_changed_decision,
    person_ids = excluded.person_ids,
    lookups = excluded.lookups
$$
"""


def upgrade() -> None:
    op.execute(REFRESH)
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
    op.execute(PREVIOUS_REFRESH)
