"""SQL for `triage purge`: incidents past their retention become de-identified statistics, then go.

Runs as the schema owner, in one transaction, after `enter_retention_mode`: the owner is under
FORCE ROW LEVEL SECURITY like the application, and the retention policies of migration 0007 let it
see every row only while this transaction says it is purging.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    TextClause,
    column,
    func,
    insert,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from api.report.repository import FACT_COLUMNS, repeat_contacts
from models.report import (
    REPEAT_CONTACT_WINDOW_DAYS,
    IncidentFact,
    OutcomeStatistic,
    ReportViewpoint,
)

# The incidents this purge removes, for the statements that follow; gone at the end of the
# transaction (committed or rolled back).
PURGED = table("purge_incident", column("id"))

_MAY_PURGE = text(
    "SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(current_user, t.tableowner, 'USAGE')"
    " FROM pg_roles r, pg_tables t"
    " WHERE r.rolname = current_user AND t.schemaname = current_schema() AND t.tablename = 'incident'"
).columns(allowed=Boolean)

_ENTER = text(
    "SELECT set_config('app.maintenance', 'retention', true),"
    " set_config('statement_timeout', '0', true)"
)

# Retention runs from the later of the call and the moment the server received the incident:
# the time of call is the caller's word, and a date far back must not have a record (and the
# custodians' notifications and access history of a lookup made today) purged at once.
_PAST_RETENTION = "greatest(incident.time_of_call_at, incident.opened_at) < :cutoff"

_CHOOSE = text(
    "CREATE TEMPORARY TABLE purge_incident ON COMMIT DROP AS"  # noqa: S608 - module constants only
    " SELECT incident.id FROM incident"
    f" WHERE {_PAST_RETENTION}"
    " AND NOT EXISTS (SELECT 1 FROM break_glass_review review"
    "  WHERE review.incident_id = incident.id AND review.status = 'pending')"
)
_INDEX_CHOSEN = text("CREATE UNIQUE INDEX ON purge_incident (id)")
_HELD = text(
    f"SELECT count(*) FROM incident WHERE {_PAST_RETENTION}"  # noqa: S608 - a module constant
    " AND id NOT IN (SELECT id FROM purge_incident)"
)

# A kept incident whose person was seen, within the repeat window before it, in an incident
# purged now: the repeat contact is carried, per organisation that saw both.
_CARRY_PRIOR_CONTACTS = text(
    "INSERT INTO purged_prior_contact (incident_id, seen_by_force, seen_by_trust)"
    " SELECT kept.id,"
    "  coalesce(bool_or(purged.organisation_code = kept.organisation_code), false),"
    "  coalesce(bool_or(purged.partner_trust_code = kept.partner_trust_code), false)"
    " FROM incident kept"
    " JOIN incident_subject kept_subject ON kept_subject.incident_id = kept.id"
    " JOIN incident_subject purged_subject ON purged_subject.person_id = kept_subject.person_id"
    " JOIN purge_incident chosen ON chosen.id = purged_subject.incident_id"
    " JOIN incident purged ON purged.id = chosen.id"
    " WHERE kept.id NOT IN (SELECT id FROM purge_incident)"
    "  AND purged.time_of_call_at >= kept.time_of_call_at - make_interval(days => :window_days)"
    "  AND purged.time_of_call_at < kept.time_of_call_at"
    " GROUP BY kept.id"
    " HAVING coalesce(bool_or(purged.organisation_code = kept.organisation_code), false)"
    "  OR coalesce(bool_or(purged.partner_trust_code = kept.partner_trust_code), false)"
    " ON CONFLICT (incident_id) DO UPDATE SET"
    "  seen_by_force = purged_prior_contact.seen_by_force OR excluded.seen_by_force,"
    "  seen_by_trust = purged_prior_contact.seen_by_trust OR excluded.seen_by_trust"
)

# In foreign-key order. Access notifications also go on their own, shorter, retention; stored
# idempotent responses once their key has expired.
DELETIONS: tuple[tuple[str, TextClause], ...] = (
    (
        "access_notification",
        text(
            "DELETE FROM access_notification WHERE incident_id IN (SELECT id FROM purge_incident)"
            " OR created_at < :notification_cutoff"
        ),
    ),
    (
        "flag_lookup",
        text("DELETE FROM flag_lookup WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "assessment_signature",
        text(
            "DELETE FROM assessment_signature WHERE assessment_id IN (SELECT id FROM assessment"
            " WHERE incident_id IN (SELECT id FROM purge_incident))"
        ),
    ),
    (
        "assessment_revision",
        text(
            "DELETE FROM assessment_revision WHERE assessment_id IN (SELECT id FROM assessment"
            " WHERE incident_id IN (SELECT id FROM purge_incident))"
        ),
    ),
    (
        "assessment",
        text("DELETE FROM assessment WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "incident_fact",
        text("DELETE FROM incident_fact WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "incident_outcome",
        text("DELETE FROM incident_outcome WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "incident_subject",
        text("DELETE FROM incident_subject WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "purged_prior_contact",
        text(
            "DELETE FROM purged_prior_contact WHERE incident_id IN (SELECT id FROM purge_incident)"
        ),
    ),
    (
        "break_glass_review",
        text("DELETE FROM break_glass_review WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    (
        "issued_token",
        text("DELETE FROM issued_token WHERE incident_id IN (SELECT id FROM purge_incident)"),
    ),
    ("incident", text("DELETE FROM incident WHERE id IN (SELECT id FROM purge_incident)")),
    (
        "idempotency_record",
        text("DELETE FROM idempotency_record WHERE created_at < :idempotency_cutoff"),
    ),
)


async def may_purge(session: AsyncSession) -> bool:
    """Whether the connected role owns the incident tables (or bypasses row-level security)."""
    connection = await session.connection()
    return bool((await connection.execute(_MAY_PURGE)).scalar_one_or_none())


async def enter_retention_mode(session: AsyncSession) -> None:
    """For the rest of this transaction: every row visible to the owner, no statement timeout."""
    connection = await session.connection()
    await connection.execute(_ENTER)


async def choose_incidents(session: AsyncSession, cutoff: datetime) -> tuple[int, int]:
    """Mark the incidents both called and received before the cutoff; one with a break-glass
    access still waiting for review is held back. Returns (chosen, held)."""
    connection = await session.connection()
    await connection.execute(text("DROP TABLE IF EXISTS pg_temp.purge_incident"))
    await connection.execute(_CHOOSE, {"cutoff": cutoff})
    await connection.execute(_INDEX_CHOSEN)
    await connection.execute(text("ANALYZE purge_incident"))
    chosen = (await connection.execute(text("SELECT count(*) FROM purge_incident"))).scalar_one()
    held = (await connection.execute(_HELD, {"cutoff": cutoff})).scalar_one()
    return int(chosen), int(held)


async def write_statistics(session: AsyncSession, cutoff: datetime) -> int:
    """One de-identified `outcome_statistic` per chosen incident: its facts, and whether it was a
    repeat contact for its force and for its trust, worked out while the earlier ones exist."""
    fact = aliased(IncidentFact, name="fact")
    before_cutoff = (
        select(fact)
        .where(col(fact.time_of_call_at) < literal(cutoff, DateTime(timezone=True)))
        .cte("before_cutoff")
    )
    repeats = {side: repeat_contacts(before_cutoff, side) for side in ReportViewpoint}
    chosen = select(
        func.gen_random_uuid().label("id"),
        *(before_cutoff.c[name] for name in FACT_COLUMNS),
        *(
            source.c.incident_id.is_not(None).label(f"repeat_contact_{side.value}")
            for side, source in repeats.items()
        ),
        func.now().label("purged_at"),
    ).select_from(before_cutoff)
    for source in repeats.values():
        chosen = chosen.outerjoin(source, source.c.incident_id == before_cutoff.c.incident_id)
    chosen = chosen.where(before_cutoff.c.incident_id.in_(select(PURGED.c.id)))
    statement = insert(OutcomeStatistic).from_select(list(OutcomeStatistic.model_fields), chosen)
    connection = await session.connection()
    return (await connection.execute(statement)).rowcount


async def carry_prior_contacts(session: AsyncSession) -> int:
    connection = await session.connection()
    result = await connection.execute(
        _CARRY_PRIOR_CONTACTS, {"window_days": REPEAT_CONTACT_WINDOW_DAYS}
    )
    return result.rowcount


async def delete_purged(
    session: AsyncSession, *, notification_cutoff: datetime, idempotency_cutoff: datetime
) -> dict[str, int]:
    """Rows deleted per table, in the order deleted."""
    connection = await session.connection()
    parameters = {
        "notification_cutoff": notification_cutoff,
        "idempotency_cutoff": idempotency_cutoff,
    }
    deleted: dict[str, int] = {}
    for name, statement in DELETIONS:
        wanted = {key: value for key, value in parameters.items() if f":{key}" in statement.text}
        deleted[name] = (await connection.execute(statement, wanted)).rowcount
    return deleted


async def forget_chosen(session: AsyncSession) -> None:
    """The list of purged incidents goes too, before the transaction ends."""
    connection = await session.connection()
    await connection.execute(text("DROP TABLE IF EXISTS pg_temp.purge_incident"))
