"""Prometheus metrics, one registry per app so several apps (tests, workers) never collide.

Under several uvicorn workers `PROMETHEUS_MULTIPROC_DIR` is set and `/metrics` adds up every worker.
"""

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    http_requests: Counter
    http_request_duration: Histogram
    partner_calls: Counter
    partner_call_duration: Histogram
    partner_breaker_state: Gauge
    lookups: Counter

    def render(self) -> tuple[bytes, str]:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def build_metrics() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    labels = ("method", "route", "status")
    return Metrics(
        registry=registry,
        http_requests=Counter(
            "triage_http_requests",
            "HTTP requests handled, by route template and status.",
            labels,
            registry=registry,
        ),
        http_request_duration=Histogram(
            "triage_http_request_duration_seconds",
            "Time from request received to response sent, by route template and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        partner_calls=Counter(
            "triage_partner_calls",
            "Calls to partner systems, by partner and outcome (ok, timeout, status_503, breaker_open, ...).",
            ("partner", "outcome"),
            registry=registry,
        ),
        partner_call_duration=Histogram(
            "triage_partner_call_duration_seconds",
            "Time a partner call took, retries included.",
            ("partner",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        partner_breaker_state=Gauge(
            "triage_partner_breaker_state",
            "Circuit breaker per partner: 0 closed, 1 half-open, 2 open.",
            ("partner",),
            registry=registry,
            multiprocess_mode="max",
        ),
        lookups=Counter(
            "triage_flag_lookups",
            "Crisis flag lookups answered, by known_to_services.",
            ("known",),
            registry=registry,
        ),
    )
