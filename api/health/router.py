"""Liveness and readiness probes, and Prometheus metrics. Public: they disclose nothing."""

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.dependencies import ResourcesDep
from api.errors import PROBLEM_CONTENT_TYPE, Problem, problem_response
from api.health.service import CheckStatus, check_readiness

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str = "alive"


class ReadinessRead(BaseModel):
    status: str
    checks: dict[str, CheckStatus]


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "Not ready", "content": {PROBLEM_CONTENT_TYPE: {}}}
}


@router.get("/healthz")
async def report_liveness() -> Liveness:
    """Whether the process is alive; touches nothing else."""
    return Liveness()


@router.get("/readyz", response_model=ReadinessRead, responses=_NOT_READY)
async def report_readiness(resources: ResourcesDep) -> Response | ReadinessRead:
    """Whether the database is reachable and its schema at the expected revision."""
    readiness = await check_readiness(
        resources.database.engine,
        expected_revision=resources.expected_revision,
        timeout_seconds=resources.settings.readiness_timeout_seconds,
    )
    checks = {"database": readiness.database}
    if not readiness.ready:
        return problem_response(
            503,
            title="Not ready",
            type_slug="not-ready",
            detail="A dependency is not ready; see checks.",
            extra={"checks": {name: status.value for name, status in checks.items()}},
        )
    return ReadinessRead(status="ready", checks=checks)


@router.get("/metrics", include_in_schema=False)
async def export_metrics(resources: ResourcesDep) -> Response:
    """Prometheus text exposition of this service's metrics."""
    body, content_type = resources.metrics.render()
    return Response(content=body, media_type=content_type)
