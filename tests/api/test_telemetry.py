"""Traces: one lookup is one trace of its request, database statements and partner calls.

The app here runs on a database of its own with its own sessions, as in production: the shared
test connection belongs to another engine, whose statements the app's tracing would never see.
"""

import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import SecretStr

from api.app import create_app
from api.log import JsonFormatter, RequestIdFilter, TraceContextFilter
from api.migration import upgrade_async
from api.settings import Settings
from api.telemetry import (
    NO_TELEMETRY,
    path_template,
    telemetry_exporting_to,
    telemetry_from_environment,
)
from tests.conftest import Exchanger, bearer
from tests.database import scratch_database
from tests.identity_provider import IdentityProvider
from tests.lookups import scene, with_faked_partners
from tests.partners import HOSTS, FakePartners

NHS_NUMBER = "9000000009"
CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CORRELATION_ID = "nsp-control-room-0412"
LOOKUP_SPAN = "POST /v1/incidents/{incident_id}/flag-lookups"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(
    settings: Settings,
    database_server_url: str,
    tmp_path: Path,
    idp: IdentityProvider,
    exporter: InMemorySpanExporter,
) -> AsyncIterator[tuple[Exchanger, FakePartners]]:
    partners = FakePartners()
    telemetry = telemetry_exporting_to(exporter, batched=False)
    async with scratch_database(database_server_url, prefix="triage_traced") as url:
        await upgrade_async(url)
        app = create_app(
            with_faked_partners(settings, tmp_path, database_url=SecretStr(url)),
            partner_transport=partners.transport(),
            telemetry=telemetry,
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://triage.test",
            ) as client,
        ):
            yield Exchanger(client, idp), partners
    assert telemetry.tracer_provider is not None
    telemetry.tracer_provider.shutdown()


async def test_one_lookup_is_one_trace_of_request_statements_and_partner_calls(
    traced: tuple[Exchanger, FakePartners],
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchanger, partners = traced
    incident_id = await scene(exchanger)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    exporter.clear()
    partners.requests.clear()
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.addFilter(TraceContextFilter())

    with caplog.at_level(logging.INFO, logger="api.request"):
        response = await exchanger.client.post(
            f"/v1/incidents/{incident_id}/flag-lookups",
            json={"nhs_number": NHS_NUMBER},
            headers=bearer(token)
            | {
                "traceparent": f"00-{CALLER_TRACE_ID}-00f067aa0ba902b7-01",
                "x-correlation-id": CORRELATION_ID,
            },
        )
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == CORRELATION_ID

    (server,) = [span for span in exporter.get_finished_spans() if span.name == LOOKUP_SPAN]
    assert server.kind == SpanKind.SERVER
    assert server.context is not None
    # The caller's trace is carried on, not a new one begun.
    trace_id = server.context.trace_id
    assert trace.format_trace_id(trace_id) == CALLER_TRACE_ID
    spans = [
        s for s in exporter.get_finished_spans() if s.context and s.context.trace_id == trace_id
    ]
    by_id = {span.context.span_id: span for span in spans if span.context is not None}
    for span in spans:
        assert span is server or _descends_from(span, server, by_id), span.name

    statements = [s for s in spans if s.kind == SpanKind.CLIENT and _is_database(s)]
    assert statements, "no database statement traced"

    peers = {s: (s.attributes or {}).get("service.peer.name") for s in spans}
    partner_spans = [s for s, peer in peers.items() if peer is not None]
    asked = [HOSTS[request.url.host] for request in partners.requests]
    assert {"pds", "nrl", "trust-rqi"} <= set(asked)
    # One client span per partner request, each naming its partner.
    assert sorted(str(peers[s]) for s in partner_spans) == sorted(asked)
    assert all(s.kind == SpanKind.CLIENT for s in partner_spans)
    sent_parents = set()
    for request in partners.requests:
        version, sent_trace, parent, _flags = request.headers["traceparent"].split("-")
        assert (version, sent_trace) == ("00", CALLER_TRACE_ID)
        sent_parents.add(int(parent, 16))
        assert request.headers["x-correlation-id"] == CORRELATION_ID
    # Each partner was told the span of its own call as the parent.
    assert sent_parents == {s.context.span_id for s in partner_spans if s.context is not None}

    # The PDS path and the trusts' queries carry the NHS number; no span does.
    exported = json.dumps([json.loads(span.to_json()) for span in spans])
    assert NHS_NUMBER not in exported
    assert "/Patient/{id}" in exported

    formatter = JsonFormatter()
    (line,) = [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.getMessage() == "http.request"
    ]
    assert line["trace_id"] == CALLER_TRACE_ID
    assert line["span_id"] == trace.format_span_id(server.context.span_id)
    assert line["correlation_id"] == CORRELATION_ID


async def test_probes_are_not_traced(
    traced: tuple[Exchanger, FakePartners], exporter: InMemorySpanExporter
) -> None:
    exchanger, _ = traced
    exporter.clear()
    assert (await exchanger.client.get("/readyz")).status_code == 200
    assert (await exchanger.client.get("/healthz")).status_code == 200
    assert exporter.get_finished_spans() == ()


def _descends_from(
    span: ReadableSpan, ancestor: ReadableSpan, by_id: dict[int, ReadableSpan]
) -> bool:
    parent = span.parent
    while parent is not None:
        if ancestor.context is not None and parent.span_id == ancestor.context.span_id:
            return True
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return False


def _is_database(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return attributes.get("db.system") == "postgresql" or (
        attributes.get("db.system.name") == "postgresql"
    )


@pytest.fixture
def otel_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The standard variables, none set but W3C propagation (the global propagator is left as is)."""
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext")
    return monkeypatch


@pytest.mark.parametrize(
    ("environ", "traced"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "triage"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
            False,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            False,
        ),
    ],
)
def test_tracing_is_on_only_with_an_otlp_endpoint(
    otel_environ: pytest.MonkeyPatch, environ: dict[str, str], traced: bool
) -> None:
    for name, value in environ.items():
        otel_environ.setenv(name, value)
    telemetry = telemetry_from_environment()
    assert (telemetry.tracer_provider is not None) is traced
    if telemetry.tracer_provider is not None:
        telemetry.tracer_provider.shutdown()
    else:
        assert telemetry is NO_TELEMETRY


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, self.headers["content-type"], body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    """An OTLP/HTTP receiver on a free loopback port: what it was sent, in `_Collector.received`."""
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_spans_are_sent_over_otlp_http_to_the_configured_endpoint(
    otel_environ: pytest.MonkeyPatch, collector: str, settings: Settings
) -> None:
    otel_environ.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    telemetry = telemetry_from_environment()
    assert telemetry.tracer_provider is not None
    app = create_app(settings, telemetry=telemetry)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://triage.test"
        ) as client,
    ):
        assert (await client.get("/v1/agreement")).status_code == 200
    telemetry.tracer_provider.shutdown()

    exported = ExportTraceServiceRequest()
    (path, content_type, body), *_ = _Collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    exported.ParseFromString(body)
    (resource_spans,) = exported.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "street-triage-api"
    names = [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    # The request alone: none of the start-up's or background work's statements.
    assert names == ["GET /v1/agreement"]


def test_untraced_app_traces_nothing_even_if_fastapi_is_told_to() -> None:
    # FastAPI reads FASTAPI_OTEL_AUTO_CONFIGURE itself; spans it exported would not be redacted.
    assert NO_TELEMETRY.fastapi_config() == {
        "tracing": False,
        "metrics": False,
        "logs": False,
        "auto_configure": False,
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    assert NO_TELEMETRY.partner_transport("pds", transport) is transport


def test_background_statements_begin_no_trace(exporter: InMemorySpanExporter) -> None:
    telemetry = telemetry_exporting_to(exporter, batched=False)
    assert telemetry.tracer_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("SELECT triage", kind=SpanKind.CLIENT):
        pass
    with (
        tracer.start_as_current_span("GET /v1/agreement", kind=SpanKind.SERVER),
        tracer.start_as_current_span("SELECT triage", kind=SpanKind.CLIENT),
    ):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == [
        "SELECT triage",
        "GET /v1/agreement",
    ]
    assert exporter.get_finished_spans()[0].parent is not None
    telemetry.tracer_provider.shutdown()


def test_spans_leave_without_paths_queries_or_exception_text(
    exporter: InMemorySpanExporter,
) -> None:
    telemetry = telemetry_exporting_to(exporter, batched=False)
    assert telemetry.tracer_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("test")
    with (
        tracer.start_as_current_span(
            "GET /v1/people/{ref}",
            kind=SpanKind.SERVER,
            attributes={
                "http.route": "/v1/people/{ref}",
                "url.path": f"/v1/people/{NHS_NUMBER}",
                "http.target": f"/v1/people/{NHS_NUMBER}",
                "url.query": f"nhs={NHS_NUMBER}",
                "http.url": f"http://user:secret@triage.test:8000/v1/people/{NHS_NUMBER}?nhs={NHS_NUMBER}",
            },
        ),
        pytest.raises(ValueError, match=NHS_NUMBER),
        tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={
                "url.full": f"https://pds.test/FHIR/R4/Patient/{NHS_NUMBER}?x=1",
                # What OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST=.* would add.
                "http.request.header.authorization": ("Bearer secret-partner-token",),
                "http.response.header.x-correlation-id": (NHS_NUMBER,),
            },
        ),
    ):
        raise ValueError(f"Key (nhs_number)=({NHS_NUMBER}) already exists")
    client, server = exporter.get_finished_spans()
    assert server.attributes == {
        "http.route": "/v1/people/{ref}",
        "url.path": "/v1/people/{ref}",
        "http.target": "/v1/people/{ref}",
        "url.query": "REDACTED",
        "http.url": "http://triage.test:8000/v1/people/{ref}",
    }
    assert client.attributes == {"url.full": "https://pds.test/FHIR/R4/Patient/{id}"}
    assert client.status.status_code == StatusCode.ERROR
    assert client.status.description is None
    (event,) = client.events
    assert event.attributes == {"exception.type": "ValueError", "exception.escaped": "False"}
    assert NHS_NUMBER not in client.to_json() + server.to_json()
    assert "secret-partner-token" not in client.to_json()
    telemetry.tracer_provider.shutdown()


def test_an_unmatched_server_path_leaves_as_unmatched(exporter: InMemorySpanExporter) -> None:
    telemetry = telemetry_exporting_to(exporter, batched=False)
    assert telemetry.tracer_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span(
        "GET", kind=SpanKind.SERVER, attributes={"url.path": f"/v1/people/{NHS_NUMBER}"}
    ):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes == {"url.path": "<unmatched>"}
    telemetry.tracer_provider.shutdown()


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (f"/FHIR/R4/Patient/{NHS_NUMBER}", "/FHIR/R4/Patient/{id}"),
        ("/FHIR/R4/Patient", "/FHIR/R4/Patient"),
        ("/trust/Y05868/FHIR/R4/Flag", "/trust/{id}/FHIR/R4/Flag"),
        ("/FHIR/R4/DocumentReference/_search", "/FHIR/R4/DocumentReference/_search"),
        ("/oauth2/token", "/oauth2/token"),
        ("/v1/incidents/3f2a9c1e-7b4d-4e8f-9a6b-2c5d8e1f0a7b", "/v1/incidents/{id}"),
        ("/Patient/$match", "/Patient/$match"),
        ("/people/2026-11-29", "/people/{id}"),
        ("/", "/"),
    ],
)
def test_partner_paths_keep_names_and_lose_identifiers(path: str, template: str) -> None:
    assert path_template(path) == template
