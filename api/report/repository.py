"""SQL for outcome reports: one statement per report, every figure computed in PostgreSQL.

A report reads one shape of row, an incident's *facts*, from two tables: `incident_fact` for kept
incidents (kept current by triggers, migration 0007) and `outcome_statistic` for purged ones,
de-identified. Percentiles are taken over both at once, so a period reports the same figures before
and after its incidents are purged.

Whether the crisis flag was consulted is what the service recorded, not what anyone wrote: an
incident counts as consulted when a flag lookup was recorded for it (`lookups`, counted by the
triggers of migration 0016 and kept when the incident is purged). Whether the flag changed the
decision only the people there know: that stays the assessment's word, counted among the
incidents consulted. An incident purged before 0016 has no count (null): its assessment's word
stands for "consulted".
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    DateTime,
    FromClause,
    Numeric,
    Row,
    case,
    cast,
    func,
    literal,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import OutcomeCode
from models.report import (
    NO_AREA_GROUP,
    NO_OUTCOME_GROUP,
    REPEAT_CONTACT_WINDOW_DAYS,
    REPORT_TIME_ZONE,
    TOTAL_GROUP,
    IncidentFact,
    OutcomeStatistic,
    PurgedPriorContact,
    ReportGrouping,
    ReportViewpoint,
)

REPEAT_WINDOW = timedelta(days=REPEAT_CONTACT_WINDOW_DAYS)
# The columns both tables share, in the order the report's facts have them (and `triage purge`
# copies them).
FACT_COLUMNS = (
    "organisation_code",
    "partner_trust_code",
    "call_date",
    "triage_mode",
    "area_code",
    "codes",
    "place_of_safety",
    "conveyance",
    "seconds_at_scene",
    "seconds_to_arrival",
    "assessed",
    "crisis_flag_consulted",
    "crisis_flag_changed_decision",
    "lookups",
)


@dataclass(frozen=True)
class ReportQuery:
    organisation_code: str
    viewpoint: ReportViewpoint
    period_start: date
    period_end: date
    grouping: ReportGrouping


def local_midnight(day: date) -> ColumnElement[Any]:
    """The instant a calendar day starts in the report's time zone (23, 24 or 25 hours a day)."""
    return func.timezone(REPORT_TIME_ZONE, cast(literal(day, Date), DateTime))


def owner(
    row: type[IncidentFact] | type[OutcomeStatistic], viewpoint: ReportViewpoint
) -> Mapped[Any]:
    """The organisation a row counts for: the force that opened it, or its partner trust."""
    if viewpoint == ReportViewpoint.force:
        return col(row.organisation_code)
    return col(row.partner_trust_code)


def repeat_contacts(facts: FromClause, viewpoint: ReportViewpoint) -> FromClause:
    """Ids of the incidents among `facts` (rows of `incident_fact`) that are repeat contacts for
    their organisation on this side.

    One is when one of its people's previous contact with the same organisation, among `facts`,
    was in the window before its call (calls at the same instant are ordered by incident id), or
    when such an earlier incident was purged (carried in `purged_prior_contact`). `facts` must
    reach back a window before the first incident asked about."""
    side = (
        facts.c.organisation_code
        if viewpoint == ReportViewpoint.force
        else facts.c.partner_trust_code
    )
    contacts = (
        select(
            facts.c.incident_id,
            side.label("owner"),
            func.unnest(facts.c.person_ids).label("person_id"),
            facts.c.time_of_call_at.label("called"),
        )
        .where(side.is_not(None))
        .subquery(f"contacts_{viewpoint.value}")
    )
    previous = func.lag(contacts.c.called).over(
        partition_by=(contacts.c.owner, contacts.c.person_id),
        order_by=(contacts.c.called, contacts.c.incident_id),
    )
    ordered = select(
        contacts.c.incident_id, contacts.c.called, previous.label("previous_called")
    ).subquery(f"ordered_{viewpoint.value}")
    seen_before = select(ordered.c.incident_id).where(
        ordered.c.previous_called >= ordered.c.called - REPEAT_WINDOW
    )
    carried_flag = (
        PurgedPriorContact.seen_by_force
        if viewpoint == ReportViewpoint.force
        else PurgedPriorContact.seen_by_trust
    )
    seen_before_purge = select(col(PurgedPriorContact.incident_id)).where(col(carried_flag))
    return union(seen_before, seen_before_purge).subquery(f"repeats_{viewpoint.value}")


def _facts_in_period(query: ReportQuery) -> CompoundSelect[*tuple[Any, ...]]:
    called_from = local_midnight(query.period_start)
    fact = aliased(IncidentFact, name="fact")
    # One scan: the period's incidents, and the window before it for their previous contacts.
    recent = (
        select(fact)
        .where(
            owner(fact, query.viewpoint) == query.organisation_code,
            col(fact.time_of_call_at) >= called_from - REPEAT_WINDOW,
            col(fact.time_of_call_at) < local_midnight(query.period_end),
        )
        .cte("recent")
    )
    repeats = repeat_contacts(recent, query.viewpoint)
    kept = (
        select(
            *(recent.c[name] for name in FACT_COLUMNS),
            repeats.c.incident_id.is_not(None).label("repeat_contact"),
        )
        .select_from(recent)
        .outerjoin(repeats, repeats.c.incident_id == recent.c.incident_id)
        .where(recent.c.time_of_call_at >= called_from)
    )
    statistic_repeat = (
        OutcomeStatistic.repeat_contact_force
        if query.viewpoint == ReportViewpoint.force
        else OutcomeStatistic.repeat_contact_trust
    )
    purged = select(
        *(getattr(OutcomeStatistic, name) for name in FACT_COLUMNS),
        col(statistic_repeat).label("repeat_contact"),
    ).where(
        owner(OutcomeStatistic, query.viewpoint) == query.organisation_code,
        col(OutcomeStatistic.call_date) >= query.period_start,
        col(OutcomeStatistic.call_date) < query.period_end,
    )
    return union_all(kept, purged)


def _rate(numerator: ColumnElement[int], denominator: ColumnElement[int]) -> ColumnElement[float]:
    return func.round(cast(numerator, Numeric) / func.nullif(denominator, 0), 4)


def _minutes(fraction: float, seconds: ColumnElement[float | None]) -> ColumnElement[float]:
    percentile = func.percentile_cont(fraction).within_group(seconds)
    return func.round(cast(percentile / 60, Numeric), 1)


def _figures(facts: FromClause) -> list[ColumnElement[Any]]:
    """The report's columns, in `OutcomeFigures` order, over whatever rows are grouped."""
    f = facts.c
    with_outcome = func.count().filter(func.jsonb_array_length(f.codes) > 0)
    detained = func.count().filter(f.codes.op("?")(OutcomeCode.s136_detention.value))
    avoided = func.count().filter(f.codes.op("?")(OutcomeCode.s136_considered_not_used.value))
    repeats = func.count().filter(f.repeat_contact)
    assessed = func.count().filter(f.assessed)
    # A null count: purged before lookups were counted, so the assessment's word stands.
    looked_up = case((f.lookups.is_(None), f.crisis_flag_consulted), else_=f.lookups > 0)
    consulted = func.count().filter(looked_up)
    changed = func.count().filter(looked_up, f.crisis_flag_changed_decision)

    def where(column: ColumnElement[Any], value: str) -> ColumnElement[int]:
        return func.count().filter(column == value)

    columns: list[ColumnElement[Any]] = [
        func.count().label("incidents"),
        with_outcome.label("with_outcome"),
        detained.label("s136_detentions"),
        _rate(detained, with_outcome).label("s136_detention_rate"),
        avoided.label("s136_considered_not_used"),
        _rate(avoided, with_outcome).label("s136_considered_not_used_rate"),
        where(f.conveyance, "ambulance").label("conveyance_ambulance"),
        where(f.conveyance, "police_vehicle").label("conveyance_police_vehicle"),
        where(f.conveyance, "other").label("conveyance_other"),
        where(f.place_of_safety, "health_based_place_of_safety").label(
            "place_of_safety_health_based"
        ),
        where(f.place_of_safety, "emergency_department").label(
            "place_of_safety_emergency_department"
        ),
        where(f.place_of_safety, "police_station").label("place_of_safety_police_station"),
        where(f.place_of_safety, "other").label("place_of_safety_other"),
        func.count(f.seconds_at_scene).label("time_at_scene_count"),
        _minutes(0.5, f.seconds_at_scene).label("time_at_scene_median_minutes"),
        _minutes(0.9, f.seconds_at_scene).label("time_at_scene_p90_minutes"),
        func.count(f.seconds_to_arrival).label("call_to_arrival_count"),
        _minutes(0.5, f.seconds_to_arrival).label("call_to_arrival_median_minutes"),
        _minutes(0.9, f.seconds_to_arrival).label("call_to_arrival_p90_minutes"),
        repeats.label("repeat_contacts"),
        _rate(repeats, func.count()).label("repeat_contact_rate"),
        assessed.label("assessed"),
        consulted.label("crisis_flag_consulted"),
        _rate(consulted, func.count()).label("crisis_flag_consulted_share"),
        changed.label("crisis_flag_changed_decision"),
        _rate(changed, consulted).label("crisis_flag_changed_decision_share"),
        func.coalesce(func.sum(f.lookups), 0).label("lookups"),
        func.round(cast(func.avg(f.lookups), Numeric), 2).label("lookups_per_incident"),
    ]
    return columns


def report_statement(query: ReportQuery) -> CompoundSelect[*tuple[Any, ...]]:
    """One row per group with incidents, then the total row; `group` first in each."""
    facts = _facts_in_period(query).cte("facts")
    f = facts.c
    group: ColumnElement[str]
    grouped: FromClause = facts
    match query.grouping:
        case ReportGrouping.month:
            group = func.to_char(f.call_date, "YYYY-MM")
        case ReportGrouping.week:
            group = func.to_char(func.date_trunc("week", f.call_date), "YYYY-MM-DD")
        case ReportGrouping.triage_mode:
            group = f.triage_mode
        case ReportGrouping.area:
            group = func.coalesce(f.area_code, NO_AREA_GROUP)
        case ReportGrouping.outcome:
            # Each outcome of an incident is a group of its own; none recorded is one group too.
            codes = case(
                (func.jsonb_array_length(f.codes) > 0, f.codes),
                else_=cast(literal(f'["{NO_OUTCOME_GROUP}"]'), JSONB),
            )
            keys = (
                func.jsonb_array_elements_text(codes)
                .table_valued("code")
                .render_derived(name="outcome_code")
            )
            grouped = facts.join(keys, true())
            group = keys.c.code
    by_group = select(group.label("group"), *_figures(facts)).select_from(grouped).group_by(group)
    total = select(literal(TOTAL_GROUP).label("group"), *_figures(facts)).select_from(facts)
    return union_all(by_group, total)


async def outcome_figures(
    session: AsyncSession, query: ReportQuery
) -> Sequence[Row[*tuple[Any, ...]]]:
    connection = await session.connection()
    return (await connection.execute(report_statement(query))).all()
