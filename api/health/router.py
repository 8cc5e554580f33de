"""Liveness and readiness probes, and Prometheus metrics. Public: they disclose nothing."""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from api.dependencies import ResourcesDep
from api.errors import PROBLEM_CONTENT_TYPE, Problem, problem_response
from api.health.service import CheckStatus, ReadinessStatus, check_readiness
from api.settings import Environment
from clients.breaker import BreakerState

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str = "alive"


class ReadinessRead(BaseModel):
    status: ReadinessStatus
    checks: dict[str, CheckStatus]
    # Each partner's circuit breaker: any not closed makes the status `degraded`, still ready.
    partners: dict[str, BreakerState]


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "Not ready", "content": {PROBLEM_CONTENT_TYPE: {}}}
}


@router.get("/healthz")
async def report_liveness() -> Liveness:
    """Whether the process is alive; touches nothing else."""
    return Liveness()


@router.get("/readyz", response_model=ReadinessRead, responses=_NOT_READY)
async def report_readiness(resources: ResourcesDep) -> Response | ReadinessRead:
    """Whether the database is reachable and migrated, and each partner's breaker state."""
    readiness = await check_readiness(
        resources.database.engine,
        expected_revision=resources.expected_revision,
        timeout_seconds=resources.settings.readiness_timeout_seconds,
        partners=resources.partners.breaker_states(),
    )
    checks = {"database": readiness.database}
    partners = dict(readiness.partners)
    if readiness.status == ReadinessStatus.not_ready:
        return problem_response(
            503,
            title="Not ready",
            type_slug="not-ready",
            detail="A dependency is not ready; see checks.",
            extra={
                "checks": {name: status.value for name, status in checks.items()},
                "partners": {name: state.value for name, state in partners.items()},
            },
        )
    return ReadinessRead(status=readiness.status, checks=checks, partners=partners)


@router.get("/metrics", include_in_schema=False)
async def export_metrics(
    resources: ResourcesDep,
    authorization: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """Prometheus text exposition of this service's metrics, for the scraper holding its token."""
    settings = resources.settings
    expected = settings.metrics_token
    if expected is None:
        if settings.environment != Environment.development:
            # Not published by default: partners' latencies and failure counts are operators'.
            return problem_response(404, detail="Metrics are served with TRIAGE_METRICS_TOKEN.")
    else:
        scheme, _, offered = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            offered.encode(), expected.get_secret_value().encode()
        ):
            return problem_response(
                401,
                detail="The metrics token is missing or wrong.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body, content_type = resources.metrics.render()
    return Response(content=body, media_type=content_type)
