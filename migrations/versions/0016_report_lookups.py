"""Outcome reports count the crisis flag lookups recorded on an incident.

- `incident_fact.lookups`: how many crisis flag lookups were recorded for the incident; the view
  `incident_fact_source` counts them and a trigger on `flag_lookup` refreshes the fact, as the
  incident's other writes do. Filled here for the incidents already recorded.
- `outcome_statistic.lookups`: the same count, kept by `triage purge` when the lookups go, so a
  purged period reports the same figures. Null for incidents purged before this revision: their
  lookups went uncounted, and the report then takes their assessment's word for "consulted".
- `crisis_flag_consulted` keeps its meaning (what an assessment says); the report decides
  "consulted" from `lookups`.

Revision ID: 0016_report_lookups
Revises: 0015_partner_rate
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_report_lookups"
down_revision: str | None = "0015_partner_rate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"

# 0007's definition with the incident's lookups counted, appended as the last column (which is
# all CREATE OR REPLACE VIEW allows).
FACT_SOURCE = """
CREATE OR REPLACE VIEW incident_fact_source WITH (security_invoker = true) AS
SELECT incident.id AS incident_id,
       incident.organisation_code,
       incident.partner_trust_code,
       incident.time_of_call_at,
       (incident.time_of_call_at AT TIME ZONE 'Europe/London')::date AS call_date,
       incident.triage_mode,
       incident.location_area_code AS area_code,
       coalesce(outcome.codes, '[]'::jsonb) AS codes,
       outcome.place_of_safety,
       outcome.conveyance,
       extract(epoch FROM outcome.left_scene_at - incident.arrival_at)::float8 AS seconds_at_scene,
       extract(epoch FROM incident.arrival_at - incident.time_of_call_at)::float8
         AS seconds_to_arrival,
       flags.consulted IS NOT NULL AS assessed,
       coalesce(flags.consulted, false) AS crisis_flag_consulted,
       coalesce(flags.changed, false) AS crisis_flag_changed_decision,
       coalesce(people.person_ids, '{}') AS person_ids,
       (SELECT count(*) FROM flag_lookup WHERE flag_lookup.incident_id = incident.id)::integer
         AS lookups
FROM incident
LEFT JOIN incident_outcome outcome ON outcome.incident_id = incident.id
LEFT JOIN LATERAL (
  SELECT bool_or((revision.content ->> 'crisis_flag_consulted')::boolean) AS consulted,
         bool_or(coalesce((revision.content ->> 'crisis_flag_changed_decision')::boolean, false))
           AS changed
  FROM assessment
  JOIN assessment_revision revision
    ON revision.assessment_id = assessment.id AND revision.revision = assessment.revision
  WHERE assessment.incident_id = incident.id
) flags ON true
LEFT JOIN LATERAL (
  SELECT array_agg(subject.person_id ORDER BY subject.person_id)
           FILTER (WHERE subject.person_id IS NOT NULL) AS person_ids
  FROM incident_subject subject
  WHERE subject.incident_id = incident.id
) people ON true
"""

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
    person_ids = excluded.person_ids,
    lookups = excluded.lookups
$$
"""

# As the owner sees them while purging: every incident's lookups.
BACKFILL = """
UPDATE incident_fact SET lookups = counted.lookups
FROM (SELECT incident_id, count(*)::integer AS lookups FROM flag_lookup GROUP BY incident_id)
  AS counted
WHERE counted.incident_id = incident_fact.incident_id
"""

# 0007's definitions, for the downgrade.
PREVIOUS_FACT_SOURCE = """
CREATE VIEW incident_fact_source WITH (security_invoker = true) AS
SELECT incident.id AS incident_id,
       incident.organisation_code,
       incident.partner_trust_code,
       incident.time_of_call_at,
       (incident.time_of_call_at AT TIME ZONE 'Europe/London')::date AS call_date,
       incident.triage_mode,
       incident.location_area_code AS area_code,
       coalesce(outcome.codes, '[]'::jsonb) AS codes,
       outcome.place_of_safety,
       outcome.conveyance,
       extract(epoch FROM outcome.left_scene_at - incident.arrival_at)::float8 AS seconds_at_scene,
       extract(epoch FROM incident.arrival_at - incident.time_of_call_at)::float8
         AS seconds_to_arrival,
       flags.consulted IS NOT NULL AS assessed,
       coalesce(flags.consulted, false) AS crisis_flag_consulted,
       coalesce(flags.changed, false) AS crisis_flag_changed_decision,
       coalesce(people.person_ids, '{}') AS person_ids
FROM incident
LEFT JOIN incident_outcome outcome ON outcome.incident_id = incident.id
LEFT JOIN LATERAL (
  SELECT bool_or((revision.content ->> 'crisis_flag_consulted')::boolean) AS consulted,
         bool_or(coalesce((revision.content ->> 'crisis_flag_changed_decision')::boolean, false))
           AS changed
  FROM assessment
  JOIN assessment_revision revision
    ON revision.assessment_id = assessment.id AND revision.revision = assessment.revision
  WHERE assessment.incident_id = incident.id
) flags ON true
LEFT JOIN LATERAL (
  SELECT array_agg(subject.person_id ORDER BY subject.person_id)
           FILTER (WHERE subject.person_id IS NOT NULL) AS person_ids
  FROM incident_subject subject
  WHERE subject.incident_id = incident.id
) people ON true
"""

PREVIOUS_REFRESH = """
CREATE OR REPLACE FUNCTION refresh_incident_fact(target uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
  INSERT INTO incident_fact (incident_id, time_of_call_at, organisation_code, partner_trust_code,
                             call_date, triage_mode, area_code, codes, place_of_safety, conveyance,
                             seconds_at_scene, seconds_to_arrival, assessed, crisis_flag_consulted,
                             crisis_flag_changed_decision, person_ids)
  SELECT incident_id, time_of_call_at, organisation_code, partner_trust_code, call_date,
         triage_mode, area_code, codes, place_of_safety, conveyance, seconds_at_scene,
         seconds_to_arrival, assessed, crisis_flag_consulted, crisis_flag_changed_decision,
         person_ids
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


def upgrade() -> None:
    op.add_column(
        "incident_fact",
        sa.Column("lookups", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("outcome_statistic", sa.Column("lookups", sa.Integer(), nullable=True))
    op.execute(FACT_SOURCE)
    op.execute(REFRESH)
    # A lookup is written after its incident: the fact must count it, as it does the incident's
    # other writes (`incident_fact_refresh` reads NEW.incident_id).
    op.execute(
        "CREATE TRIGGER flag_lookup_fact_refresh AFTER INSERT ON flag_lookup"
        " FOR EACH ROW EXECUTE FUNCTION incident_fact_refresh()"
    )
    op.execute("SELECT set_config('app.maintenance', 'retention', true)")
    op.execute(BACKFILL)
    op.execute("SELECT set_config('app.maintenance', '', true)")


def downgrade() -> None:
    op.execute("DROP TRIGGER flag_lookup_fact_refresh ON flag_lookup")
    # The view loses a column: it is made again, and the function that reads it after it.
    op.execute("DROP VIEW incident_fact_source")
    op.execute(PREVIOUS_FACT_SOURCE)
    op.execute(f"GRANT SELECT ON incident_fact_source TO {APP_ROLE}")
    op.execute(PREVIOUS_REFRESH)
    op.drop_column("outcome_statistic", "lookups")
    op.drop_column("incident_fact", "lookups")
