"""Seed many incidents, shaped like the ones the API writes, for the outcome report benchmark.

Several forces (the demo's NSP and four more, each with its trusts) over several years: incidents
with outcomes, subjects (most identified, some people seen again and again), joint assessments
with revisions and signatures, flag lookups and access notifications. Generated inside PostgreSQL
with `INSERT ... SELECT generate_series`, in batches, so a million incidents take minutes.

    python bench/seed_incidents.py [--incidents 1000000] [--years 5]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_bench python bench/seed_incidents.py

Without TRIAGE_DATABASE_URL it uses an embedded PostgreSQL kept in `.triage/bench-pgdata`, which
`bench/report.py` then reads. Seeding adds to what is there: use a fresh database for clean figures.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.migration import upgrade_async
from api.settings import libpq_database_url

BENCH_PGDATA = Path(".triage/bench-pgdata")
BATCH = 100_000

# (force, its partner trusts). NSP, RQI and Y05868 are the demo partnership's.
FORCES = (
    ("NSP", ("RQI", "Y05868")),
    ("BFA", ("RTA",)),
    ("BFB", ("RTB",)),
    ("BFC", ("RTC",)),
    ("BFD", ("RTD",)),
)


def bench_database_url() -> str:
    """TRIAGE_DATABASE_URL, or the benchmark's own embedded PostgreSQL (started if need be)."""
    configured = os.environ.get("TRIAGE_DATABASE_URL")
    if configured:
        return configured
    from api.embedded import start_embedded_postgres

    return start_embedded_postgres(BENCH_PGDATA, stop_at_exit=False)


ORGANISATIONS = """
INSERT INTO organisation (id, code, name, kind, active, created_at, updated_at)
SELECT md5('organisation-' || code)::uuid, code, 'Benchmark ' || code, kind, true, now(), now()
FROM unnest($1::text[], $2::text[]) AS o(code, kind)
ON CONFLICT (code) DO NOTHING
"""

USERS = """
INSERT INTO user_account (id, issuer, subject, display_name, role, organisation_code, active,
                          first_seen_at, last_seen_at)
SELECT md5('user-' || code)::uuid, 'urn:bench:seed', 'seed-' || code, 'Seeded user of ' || code,
       CASE WHEN kind = 'police_force' THEN 'officer' ELSE 'mh_practitioner' END, code, true,
       now(), now()
FROM unnest($1::text[], $2::text[]) AS o(code, kind)
ON CONFLICT (issuer, subject) DO NOTHING
"""

# Valid NHS numbers (Modulus 11) from nine-digit stems; stems whose check digit would be 10 are
# skipped. Each person gets a dense number `n` for the incidents to pick from.
PEOPLE = """
INSERT INTO person (id, nhs_number, created_at)
SELECT md5('bench-person-' || n)::uuid, nhs, now()
FROM (
  SELECT row_number() OVER (ORDER BY stem) AS n, stem || (check_digit % 11)::text AS nhs
  FROM (
    SELECT stem, 11 - (
      SELECT sum(substr(stem, i, 1)::int * (11 - i)) FROM generate_series(1, 9) i
    ) % 11 AS check_digit
    FROM (SELECT (600000000 + g * 7)::text AS stem FROM generate_series(1, $1::int) g) stems
  ) checked
  WHERE check_digit <> 10
) numbered
ON CONFLICT (nhs_number) DO NOTHING
"""

# One row per incident of the batch with every random draw the tables below need.
PLAN = """
CREATE TEMPORARY TABLE seed_plan AS
SELECT d.*,
       md5('bench-incident-' || g)::uuid AS incident_id,
       ($3::text[])[force_index + 1] AS force,
       CASE WHEN r_trust < 0.03 THEN NULL
            WHEN force_index = 0 THEN (ARRAY['RQI', 'Y05868'])[1 + (g / 5) % 2]
            ELSE 'RT' || chr(64 + force_index) END AS trust,
       CASE WHEN r_mode < 0.70 THEN 'face_to_face' WHEN r_mode < 0.88 THEN 'phone'
            ELSE 'control_room' END AS mode,
       CASE WHEN r_mode < 0.70 THEN called + make_interval(secs => 60 * (4 + 56 * r_arrive ^ 2))
            END AS arrival
FROM (
  SELECT g, g % 5 AS force_index, $5::int AS people,
         now() - interval '1 day' - make_interval(secs => $4::float8 * 365 * 86400 * random())
           AS called,
         random() AS r_trust, random() AS r_mode, random() AS r_arrive, random() AS r_area,
         random() AS r_reason, random() AS r_has_outcome, random() AS r_outcome,
         random() AS r_place, random() AS r_convey, random() AS r_scene, random() AS r_notes,
         random() AS r_identified, random() AS r_person, random() AS r_second,
         random() AS r_assessed, random() AS r_amended, random() AS r_consulted,
         random() AS r_changed, random() AS r_looked_up, random() AS r_notified,
         random() AS r_spare
  FROM generate_series($1::int, $2::int) g
) d
"""

INCIDENTS = """
INSERT INTO incident (id, cad_reference, organisation_code, partner_trust_code, status,
                      time_of_call_at, arrival_at, location_area_code, location_latitude,
                      location_longitude, attendance_reason, attendance_reason_text, triage_mode,
                      opened_by, opened_at, closed_at)
SELECT incident_id, force || '-' || to_char(called, 'YYYYMMDD') || '-' || lpad((g % 10000)::text, 4, '0'),
       force, trust, CASE WHEN r_spare < 0.98 THEN 'closed' ELSE 'open' END, called, arrival,
       CASE WHEN r_area < 0.92 THEN 'E01' || lpad((force_index * 2000 + floor(r_area * 2000))::int::text, 6, '0') END,
       CASE WHEN r_area >= 0.92 THEN round((53 + r_area)::numeric, 3) END,
       CASE WHEN r_area >= 0.92 THEN round((-1.5 - r_area)::numeric, 3) END,
       CASE WHEN r_reason < 0.80 THEN 'risk_to_life_or_serious_harm' WHEN r_reason < 0.95 THEN 'crime'
            ELSE 'other' END,
       CASE WHEN r_reason >= 0.95 THEN 'Welfare check asked for by a neighbour; no crime reported.' END,
       mode, md5('user-' || force)::uuid, called,
       CASE WHEN r_spare < 0.98 THEN called + interval '3 hours' END
FROM seed_plan
"""

OUTCOMES = """
INSERT INTO incident_outcome (incident_id, codes, place_of_safety, conveyance, referral_notes,
                              left_scene_at, handover_at, revision, recorded_by, recorded_at)
SELECT incident_id, codes,
       CASE WHEN detained THEN CASE WHEN r_place < 0.50 THEN 'health_based_place_of_safety'
            WHEN r_place < 0.92 THEN 'emergency_department' WHEN r_place < 0.95 THEN 'police_station'
            ELSE 'other' END END,
       CASE WHEN detained THEN CASE WHEN r_convey < 0.45 THEN 'ambulance'
            WHEN r_convey < 0.95 THEN 'police_vehicle' ELSE 'other' END END,
       CASE WHEN r_notes < 0.30 THEN 'Referred on; the team will call him tomorrow morning.' END,
       left_scene,
       CASE WHEN detained THEN left_scene + make_interval(secs => 60 * (20 + 100 * r_spare)) END,
       1, md5('user-' || force)::uuid, called + interval '2 hours'
FROM (
  SELECT *, codes ? 's136_detention' AS detained,
         CASE WHEN arrival IS NOT NULL THEN arrival + make_interval(secs => 60 * (10 + 230 * r_scene ^ 2))
              END AS left_scene
  FROM (
    SELECT *, CASE
      WHEN r_outcome < 0.10 THEN '["s136_detention"]'::jsonb
      WHEN r_outcome < 0.14 THEN '["s136_detention", "ambulance_required"]'::jsonb
      WHEN r_outcome < 0.24 THEN '["s136_considered_not_used", "referral_crisis_team"]'::jsonb
      WHEN r_outcome < 0.32 THEN '["s136_considered_not_used", "left_at_home_with_support"]'::jsonb
      WHEN r_outcome < 0.40 THEN '["informal_admission"]'::jsonb
      WHEN r_outcome < 0.46 THEN '["mha_assessment_arranged"]'::jsonb
      WHEN r_outcome < 0.56 THEN '["referral_cmht"]'::jsonb
      WHEN r_outcome < 0.62 THEN '["referral_gp", "advice_and_support"]'::jsonb
      WHEN r_outcome < 0.66 THEN '["referral_other_agency"]'::jsonb
      WHEN r_outcome < 0.80 THEN '["advice_and_support"]'::jsonb
      WHEN r_outcome < 0.86 THEN '["handed_to_carer"]'::jsonb
      WHEN r_outcome < 0.95 THEN '["conveyed_to_emergency_department"]'::jsonb
      ELSE '["arrested"]'::jsonb END AS codes
    FROM seed_plan WHERE r_has_outcome < 0.94
  ) coded
) timed
"""

# The first subject of every incident, a second for some. People are drawn from the force's own
# share of the register with a heavy skew, so some are seen again and again.
SUBJECTS = """
INSERT INTO incident_subject (id, incident_id, person_id, description, added_by, added_at)
SELECT md5('bench-subject-' || k || '-' || g)::uuid, incident_id,
       CASE WHEN r_identified < 0.82 THEN md5('bench-person-' || (1 + (force_index + 5 * floor((people / 5 - 2) * r_person ^ 3)::int + k - 1) % people))::uuid END,
       CASE WHEN r_identified >= 0.82 THEN 'Man in his thirties, dark coat, not carrying ID.' END,
       md5('user-' || force)::uuid, called
FROM seed_plan, generate_series(1, 2) k
WHERE k = 1 OR r_second < 0.12
"""

ASSESSMENTS = """
INSERT INTO assessment (id, incident_id, subject_id, revision, status, created_at, updated_at,
                        locked_at)
SELECT md5('bench-assessment-' || k || '-' || g)::uuid, incident_id,
       md5('bench-subject-' || k || '-' || g)::uuid,
       CASE WHEN r_amended < 0.15 THEN 2 ELSE 1 END,
       CASE WHEN r_amended < 0.90 THEN 'locked' ELSE 'draft' END,
       called, called + interval '1 hour',
       CASE WHEN r_amended < 0.90 THEN called + interval '1 hour' END
FROM seed_plan, generate_series(1, 2) k
WHERE r_assessed < 0.88 AND (k = 1 OR r_second < 0.12)
"""

# The content is the shape `AssessmentContent` validates, with texts of typical length.
REVISIONS = """
INSERT INTO assessment_revision (id, assessment_id, revision, kind, content, amendment_reason,
                                 author_id, created_at)
SELECT md5('bench-revision-' || n || '-' || k || '-' || g)::uuid,
       md5('bench-assessment-' || k || '-' || g)::uuid, n,
       CASE WHEN n = 1 THEN 'created' ELSE 'amended' END,
       jsonb_build_object(
         'presenting_situation', 'Found on the bridge after an argument at home; distressed, '
            || 'talking of ending his life, and had been drinking since the afternoon.',
         'risk_to_self', jsonb_build_object('level', 'high', 'rationale',
            'Stated intent, at height, recent loss of his job and relationship.'),
         'risk_to_others', jsonb_build_object('level', 'low', 'rationale',
            'Verbally angry at first, no weapon, no threats made to anyone.'),
         'risk_from_others', jsonb_build_object('level', 'none', 'rationale', null),
         'intoxication', 'alcohol',
         'physical_health_concerns', null,
         'mental_capacity', jsonb_build_object('considered', true, 'outcome', 'has_capacity',
            'notes', null),
         'consent_to_share', 'given',
         'legal_basis_without_consent', null,
         's136_considered', r_outcome < 0.32,
         'police_powers_used', CASE WHEN r_outcome < 0.14 THEN '["section_136"]'::jsonb
                                    ELSE '[]'::jsonb END,
         'crisis_flag_consulted', r_consulted < 0.65,
         'crisis_flag_changed_decision', CASE WHEN r_consulted < 0.65 THEN r_changed < 0.35 END,
         'decision', 'Voluntary attendance at the crisis team; no detention.',
         'decision_rationale', 'Engaged with the nurse and accepted support; the crisis plan '
            || 'named what helps and who to call.'),
       CASE WHEN n = 2 THEN 'Practitioner corrected the intoxication after a breath test.' END,
       md5('user-' || force)::uuid, called + make_interval(secs => 1800 * n)
FROM seed_plan, generate_series(1, 2) k, generate_series(1, 2) n
WHERE r_assessed < 0.88 AND (k = 1 OR r_second < 0.12) AND (n = 1 OR r_amended < 0.15)
"""

SIGNATURES = """
INSERT INTO assessment_signature (id, assessment_id, revision, role, signer_id,
                                  organisation_code, signed_at)
SELECT md5('bench-signature-' || role || '-' || k || '-' || g)::uuid,
       md5('bench-assessment-' || k || '-' || g)::uuid, 1, role,
       md5('user-' || CASE WHEN role = 'officer' THEN force ELSE coalesce(trust, 'RQI') END)::uuid,
       CASE WHEN role = 'officer' THEN force ELSE coalesce(trust, 'RQI') END,
       called + interval '1 hour'
FROM seed_plan, generate_series(1, 2) k, unnest(ARRAY['officer', 'mh_practitioner']) role
WHERE r_assessed < 0.88 AND r_amended < 0.90 AND (k = 1 OR r_second < 0.12)
"""

LOOKUPS = """
INSERT INTO flag_lookup (id, incident_id, user_id, organisation_code, person_id,
                         known_to_services, created_at)
SELECT md5('bench-lookup-' || g)::uuid, s.incident_id, md5('user-' || p.force)::uuid, p.force,
       s.person_id, CASE WHEN p.r_notified < 0.6 THEN 'yes' ELSE 'no' END, p.called
FROM seed_plan p JOIN incident_subject s ON s.id = md5('bench-subject-1-' || p.g)::uuid
WHERE p.r_looked_up < 0.5 AND s.person_id IS NOT NULL
"""

NOTIFICATIONS = """
INSERT INTO access_notification (id, organisation_code, person_id, lookup_id, actor_user_id,
                                 actor_name, actor_role, actor_organisation_code, incident_id,
                                 cad_reference, purpose, break_glass, read_at, created_at)
SELECT md5('bench-notification-' || l.id)::uuid, coalesce(p.trust, 'RQI'), l.person_id, l.id,
       l.user_id, 'Seeded user of ' || p.force, 'officer', p.force, l.incident_id,
       i.cad_reference, 'street-triage', false, l.created_at + interval '1 day', l.created_at
FROM seed_plan p JOIN flag_lookup l ON l.id = md5('bench-lookup-' || p.g)::uuid
JOIN incident i ON i.id = l.incident_id
WHERE l.known_to_services = 'yes'
"""

# The facts the outcome report reads, written once per batch rather than by the triggers row by
# row (which the batch turns off for its own duration).
FACTS = """
INSERT INTO incident_fact (incident_id, organisation_code, partner_trust_code, time_of_call_at,
                           call_date, triage_mode, area_code, codes, place_of_safety, conveyance,
                           seconds_at_scene, seconds_to_arrival, assessed, crisis_flag_consulted,
                           crisis_flag_changed_decision, person_ids)
SELECT incident_id, organisation_code, partner_trust_code, time_of_call_at, call_date, triage_mode,
       area_code, codes, place_of_safety, conveyance, seconds_at_scene, seconds_to_arrival,
       assessed, crisis_flag_consulted, crisis_flag_changed_decision, person_ids
FROM incident_fact_source WHERE incident_id IN (SELECT incident_id FROM seed_plan)
"""
TRIGGERED = (
    "incident",
    "incident_outcome",
    "incident_subject",
    "assessment",
    "assessment_revision",
)

BATCH_STATEMENTS = (
    ("incident", INCIDENTS),
    ("incident_outcome", OUTCOMES),
    ("incident_subject", SUBJECTS),
    ("assessment", ASSESSMENTS),
    ("assessment_revision", REVISIONS),
    ("assessment_signature", SIGNATURES),
    ("flag_lookup", LOOKUPS),
    ("access_notification", NOTIFICATIONS),
    ("incident_fact", FACTS),
)


async def seed(database_url: str, incidents: int, years: float) -> None:
    await upgrade_async(database_url)
    connection = await asyncpg.connect(libpq_database_url(database_url))
    try:
        # Our own connection: as the schema owner, past row-level security like `triage purge`.
        await connection.execute(
            "SELECT set_config('app.maintenance', 'retention', false),"
            " set_config('synchronous_commit', 'off', false)"
        )
        await connection.execute("SELECT setseed(0.42)")
        codes = [force for force, _ in FORCES] + [t for _, trusts in FORCES for t in trusts]
        kinds = ["police_force"] * len(FORCES) + ["nhs_trust"] * (len(codes) - len(FORCES))
        await connection.execute(ORGANISATIONS, codes, kinds)
        await connection.execute(USERS, codes, kinds)
        started = time.perf_counter()
        await connection.execute(PEOPLE, max(1000, incidents // 4))
        people = await connection.fetchval("SELECT count(*) FROM person WHERE nhs_number LIKE '6%'")
        print(f"people: {people} ({time.perf_counter() - started:.1f} s)")
        # A second run adds to the first, numbering on.
        start = 1 + int(
            await connection.fetchval(
                "SELECT count(*) FROM incident WHERE opened_by IN"
                " (SELECT id FROM user_account WHERE issuer = 'urn:bench:seed')"
            )
        )
        force_codes = [force for force, _ in FORCES]
        for first in range(start, start + incidents, BATCH):
            last = min(first + BATCH - 1, start + incidents - 1)
            began = time.perf_counter()
            async with connection.transaction():
                for table in TRIGGERED:  # back on when this transaction commits
                    await connection.execute(
                        f"ALTER TABLE {table} DISABLE TRIGGER {table}_fact_refresh"
                    )
                await connection.execute(PLAN, first, last, force_codes, years, people)
                counts = []
                for table, statement in BATCH_STATEMENTS:
                    status = await connection.execute(statement)
                    counts.append(f"{table} {status.split()[-1]}")
                await connection.execute("DROP TABLE seed_plan")
                for table in TRIGGERED:
                    await connection.execute(
                        f"ALTER TABLE {table} ENABLE TRIGGER {table}_fact_refresh"
                    )
            print(
                f"incidents {first:>9}-{last:<9} {time.perf_counter() - began:6.1f} s  "
                + ", ".join(counts)
            )
        began = time.perf_counter()
        await connection.execute("ANALYZE")
        print(
            f"analyze {time.perf_counter() - began:.1f} s; total {time.perf_counter() - started:.0f} s"
        )
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--years", type=float, default=5.0)
    args = parser.parse_args()
    url = bench_database_url()
    print(f"seeding {args.incidents} incidents over {args.years} years")
    asyncio.run(seed(url, args.incidents, args.years))


if __name__ == "__main__":
    main()
