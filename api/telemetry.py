"""Traces over OpenTelemetry: each request, its database statements and its partner calls.

On only when an OTLP endpoint is configured through the standard `OTEL_*` variables; otherwise
nothing is instrumented at all, so an untraced service pays nothing. Every span passes
`RedactingSpanExporter` on its way out: paths, queries and exception messages can carry an NHS
number (PDS reads by path, trusts search by query, driver errors quote values), so none leaves.
"""

import os
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport, RequestInfo
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider, NoOpUpDownCounter
from opentelemetry.propagate import set_global_textmap
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Status, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes, AttributeValue

from api.database import Database, trace_driver_statements

SERVICE = "street-triage-api"
# Probes and the scraper call every few seconds; their spans would bury the requests that matter.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED_ROUTE = "<unmatched>"
REDACTED = "REDACTED"
HEADER_ATTRIBUTE_PREFIXES = ("http.request.header.", "http.response.header.")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PATH_ATTRIBUTES = ("url.path", "http.target")
URL_ATTRIBUTES = ("url.full", "http.url")
QUERY_ATTRIBUTES = ("url.query",)
# The type of an exception is kept; its message and stack text quote whatever failed.
EXCEPTION_TEXT_ATTRIBUTES = frozenset({"exception.message", "exception.stacktrace"})
# A path segment is kept when it reads as a name (`Patient`, `FHIR`, `R4`, `v1`); anything with
# more digits than that is an identifier (an NHS number, a UUID, a date) and becomes `{id}`.
NAME_SEGMENT = re.compile(r"[A-Za-z$_][A-Za-z$_.-]*[0-9]{0,2}")


@dataclass(frozen=True)
class Telemetry:
    """Off (no tracer provider: nothing is instrumented, nothing is paid), or a tracer provider and
    what it instruments: the app, its database engine, its partner transports."""

    tracer_provider: TracerProvider | None = None

    def fastapi_config(self) -> TelemetryConfig:
        """FastAPI's own tracing: a server span around every request, outside all of the app's
        middleware so every log line of the request is written inside it. Never from FastAPI's
        own reading of the environment (`auto_configure`), which would export spans this module
        has not redacted; no metrics (Prometheus has them), no logs (FastAPI's carry exception
        messages), and no spans for each dependency, endpoint and serialisation, which made most
        of a traced request's overhead and say less than its statements and partner calls."""
        if self.tracer_provider is None:
            return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
        return {
            "tracer_provider": self.tracer_provider,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
            "exclude": _untraced,
            "operation_spans": False,
        }

    def instrument_database(self, database: Database) -> Database:
        """A client span per statement on this database's engine only (the package's
        `instrument()` would patch every engine in the process)."""
        if self.tracer_provider is not None:
            tracer = trace.get_tracer(
                "opentelemetry.instrumentation.sqlalchemy", tracer_provider=self.tracer_provider
            )
            # Prometheus already counts connections; the pool gauge goes nowhere.
            EngineTracer(  # type: ignore[no-untyped-call]
                tracer,
                database.engine.sync_engine,
                NoOpUpDownCounter("db.client.connections.usage"),
            )
            trace_driver_statements(database.engine, tracer)
        return database

    def partner_transport(
        self, partner: str, transport: httpx.AsyncBaseTransport
    ) -> httpx.AsyncBaseTransport:
        """`transport`, with a client span per request and `traceparent` sent to the partner."""
        if self.tracer_provider is None:
            return transport

        async def name_partner(span: trace.Span, request: RequestInfo) -> None:
            span.set_attribute("service.peer.name", partner)

        return AsyncOpenTelemetryTransport(
            transport,
            tracer_provider=self.tracer_provider,
            meter_provider=NoOpMeterProvider(),
            request_hook=name_partner,
        )


NO_TELEMETRY = Telemetry()


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def telemetry_from_environment() -> Telemetry:
    """Tracing to the OTLP/HTTP endpoint in `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, unless
    `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; without one, none at all. The
    exporter, sampler and batching read the rest of the standard `OTEL_*` variables; spans still
    batched at exit are sent by the provider's own exit hook."""
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return NO_TELEMETRY
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return NO_TELEMETRY
    if not any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES):
        return NO_TELEMETRY
    if "OTEL_PROPAGATORS" not in environ:
        # W3C trace context only: the default would also pass a caller's `baggage`, free text
        # of their choosing, on to every NHS partner.
        set_global_textmap(TraceContextTextMapPropagator())
    return telemetry_exporting_to(OTLPSpanExporter())


def telemetry_exporting_to(exporter: SpanExporter, *, batched: bool = True) -> Telemetry:
    """Spans redacted, then handed to `exporter`: in batches off the request path, or one by one
    as they end (`batched=False`, for tests reading an in-memory exporter)."""
    provider = TracerProvider(resource=_resource())
    # Before any tracer is made: each copies the provider's sampler.
    provider.sampler = RequestTraces(provider.sampler)
    redacting = RedactingSpanExporter(exporter)
    provider.add_span_processor(
        BatchSpanProcessor(redacting) if batched else SimpleSpanProcessor(redacting)
    )
    return Telemetry(provider)


def _resource() -> Resource:
    # `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win; our name replaces only the default.
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: SERVICE}))
    return detected


class RequestTraces(Sampler):
    """Only traces that begin with a request, then as `inner` decides: background work (sealing
    the audit log every few seconds, sweeps) would make each of its statements a trace."""

    def __init__(self, inner: Sampler) -> None:
        self._inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and kind != SpanKind.SERVER:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RequestTraces{{{self._inner.get_description()}}}"


class RedactingSpanExporter(SpanExporter):
    """Passes spans on with paths reduced to route templates, queries and exception text removed.

    Done here, at the last step before the wire, so it holds for every instrumentation whatever
    attributes it sets, and for status descriptions, which cannot be changed once a span ends.
    """

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def redacted(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` that carries no path, query, or exception message."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_redacted_attributes(span),
        events=[
            Event(
                event.name,
                {
                    key: value
                    for key, value in (event.attributes or {}).items()
                    if key not in EXCEPTION_TEXT_ATTRIBUTES
                },
                event.timestamp,
            )
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redacted_attributes(span: ReadableSpan) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = dict(span.attributes or {})
    route = attributes.get("http.route")
    server_path = route if isinstance(route, str) else UNMATCHED_ROUTE

    def safe_path(path: Any) -> str:
        # Our own routes are known by their template; a partner's path is reduced segment by segment.
        return server_path if span.kind == SpanKind.SERVER else path_template(str(path))

    for key in PATH_ATTRIBUTES:
        if key in attributes:
            attributes[key] = safe_path(attributes[key])
    for key in URL_ATTRIBUTES:
        if key in attributes:
            parts = urlsplit(str(attributes[key]))
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            attributes[key] = f"{parts.scheme}://{host}{port}{safe_path(parts.path)}"
    for key in QUERY_ATTRIBUTES:
        if key in attributes:
            attributes[key] = REDACTED
    # Captured headers (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*) carry bearer tokens and
    # correlation values: none leaves, whatever the environment asks.
    for key in [key for key in attributes if key.startswith(HEADER_ATTRIBUTE_PREFIXES)]:
        del attributes[key]
    return attributes


def path_template(path: str) -> str:
    """`/FHIR/R4/Patient/9000000009` -> `/FHIR/R4/Patient/{id}`."""
    return "/".join(
        segment if not segment or NAME_SEGMENT.fullmatch(segment) else "{id}"
        for segment in path.split("/")
    )
