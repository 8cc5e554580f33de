"""Outcome reports for supervisors: their own organisation's incidents, figures only, audited."""

from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from api.audit.repository import principal_event, record
from api.errors import ServiceError
from api.report import repository
from api.report.repository import ReportQuery
from auth.principal import Principal
from models import (
    AuditAction,
    DataClass,
    OrganisationKind,
    OutcomeCode,
    Partnership,
    TriageMode,
)
from models.report import (
    MAX_REPORT_YEARS,
    NO_AREA_GROUP,
    NO_OUTCOME_GROUP,
    TOTAL_GROUP,
    OutcomeFigures,
    OutcomeReport,
    ReportGrouping,
    ReportViewpoint,
)


class InvalidReportPeriod(ServiceError):
    status = 400
    type_slug = "invalid-report-period"
    title = "Invalid report period"


def check_period(period_start: date, period_end: date) -> None:
    if period_end <= period_start:
        raise InvalidReportPeriod("`to` must be after `from`.")
    if period_end > _years_after(period_start, MAX_REPORT_YEARS):
        raise InvalidReportPeriod(f"A report covers at most {MAX_REPORT_YEARS} years.")


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


def viewpoint_of(partnership: Partnership, organisation_code: str) -> ReportViewpoint:
    """A force reports the incidents it opened; a trust, those naming it as partner trust."""
    kind = next(org.kind for org in partnership.organisations if org.code == organisation_code)
    return ReportViewpoint.force if kind == OrganisationKind.police_force else ReportViewpoint.trust


async def report_outcomes(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    *,
    period_start: date,
    period_end: date,
    grouping: ReportGrouping,
    representation: str,
) -> OutcomeReport:
    check_period(period_start, period_end)
    query = ReportQuery(
        organisation_code=principal.organisation_code,
        viewpoint=viewpoint_of(partnership, principal.organisation_code),
        period_start=period_start,
        period_end=period_end,
        grouping=grouping,
    )
    rows = await repository.outcome_figures(session, query)
    figures = [OutcomeFigures.model_validate(row._mapping) for row in rows]
    total = next(row for row in figures if row.group == TOTAL_GROUP)
    groups = [row for row in figures if row.group != TOTAL_GROUP]
    await record(
        session,
        principal_event(
            AuditAction.report_read,
            principal,
            None,
            {
                "report": "outcomes",
                "from": period_start.isoformat(),
                "to": period_end.isoformat(),
                "group_by": grouping.value,
                "representation": representation,
            },
            data_classes=(DataClass.outcome_statistics,),
        ),
    )
    return OutcomeReport(
        organisation_code=principal.organisation_code,
        period_start=period_start,
        period_end=period_end,
        group_by=grouping,
        groups=_in_order(groups, query),
        total=total,
    )


def _in_order(groups: list[OutcomeFigures], query: ReportQuery) -> list[OutcomeFigures]:
    """Periods in time order with empty ones filled in; codes and modes in their enum's order."""
    found = {row.group: row for row in groups}
    match query.grouping:
        case ReportGrouping.month | ReportGrouping.week:
            periods = _periods(query.period_start, query.period_end, query.grouping)
            return [found.get(label) or OutcomeFigures.empty(label) for label in periods]
        case ReportGrouping.outcome:
            order = [*(code.value for code in OutcomeCode), NO_OUTCOME_GROUP]
        case ReportGrouping.triage_mode:
            order = [mode.value for mode in TriageMode]
        case ReportGrouping.area:
            order = [*sorted(label for label in found if label != NO_AREA_GROUP), NO_AREA_GROUP]
    return [found[label] for label in order if label in found]


def _periods(start: date, end: date, grouping: ReportGrouping) -> list[str]:
    """Labels of every month or week (Monday) overlapping [start, end), as the SQL writes them."""
    labels: list[str] = []
    if grouping == ReportGrouping.month:
        month = start.replace(day=1)
        while month < end:
            labels.append(month.strftime("%Y-%m"))
            month = (month + timedelta(days=32)).replace(day=1)
    else:
        monday = start - timedelta(days=start.weekday())
        while monday < end:
            labels.append(monday.isoformat())
            monday += timedelta(weeks=1)
    return labels
