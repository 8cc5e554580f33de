"""Outcome reports for supervisors: counts, rates and timings of their own organisation."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from api.dependencies import ResourcesDep, SessionDep
from api.errors import problem_responses
from api.report import service
from api.report.export import CSV_MEDIA_TYPE, report_csv, wants_csv
from api.security import Authorizer, Forbidden, Unauthenticated
from auth.principal import Principal
from models import Scope
from models.report import OutcomeReport, ReportGrouping
from models.validation import PlausibleDate

router = APIRouter(prefix="/v1/reports", tags=["reports"])

CanReport = Annotated[Principal, Depends(Authorizer(Scope.report_read))]

_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; as CSV with `Accept: text/csv` (one row per group, then "
        "`total`).",
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/outcomes",
    response_model=OutcomeReport,
    responses={
        **_CSV_RESPONSE,
        **problem_responses(Unauthenticated, Forbidden, service.InvalidReportPeriod),
    },
)
async def report_outcomes(
    principal: CanReport,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
    period_start: Annotated[
        PlausibleDate, Query(alias="from", description="First day counted (Europe/London).")
    ],
    period_end: Annotated[
        PlausibleDate,
        Query(alias="to", description="First day not counted; at most five years on."),
    ],
    group_by: ReportGrouping = ReportGrouping.month,
    accept: Annotated[str | None, Header()] = None,
) -> Response | OutcomeReport:
    """Outcomes, s136 use, conveyance, timings and repeat contacts of your organisation's incidents."""
    as_csv = wants_csv(accept)
    report = await service.report_outcomes(
        session,
        resources.partnership,
        principal,
        period_start=period_start,
        period_end=period_end,
        grouping=group_by,
        representation="csv" if as_csv else "json",
    )
    if as_csv:
        filename = f"outcomes-{principal.organisation_code}-{period_start}-{period_end}.csv"
        return Response(
            report_csv(report),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={
                "Vary": "Accept",
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )
    response.headers["Vary"] = "Accept"
    return report
