"""Structured JSON logs: one object a line, with the request id, and never personal data.

Log calls name an event (`http.request`, `partner.request.retry`) and pass values through
`extra={"fields": {...}}`. Only identifiers of our own making, codes and numbers belong there,
named as OpenTelemetry's semantic conventions name them where they have a name
(`http.request.method`, `http.route`, `http.response.status_code`, `error.type`). A line written
inside a traced request carries its `trace_id` and `span_id`.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# What partners are sent as X-Correlation-ID: the caller's, or else our request id.
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id while still inside the request's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class TraceContextFilter(logging.Filter):
    """Stamps each record with the ids of the span it was written in, when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        trace_id = getattr(record, "trace_id", None)
        if trace_id is not None:
            entry["trace_id"] = trace_id
            entry["span_id"] = getattr(record, "span_id", None)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and where it was raised, never its message: driver errors quote
            # the values that failed, and those can be personal data.
            entry["exception.type"] = record.exc_info[0].__name__
            entry["exception.stacktrace"] = "\n".join(_frames(record.exc_info[2]))
        return json.dumps(entry, default=str, ensure_ascii=False)


def _frames(tb: Any) -> list[str]:
    frames: list[str] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f"{code.co_filename}:{tb.tb_lineno}:{code.co_name}")
        tb = tb.tb_next
    return frames[-20:]


def configure_logging(level: str) -> None:
    """Send every logger, uvicorn's included, through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TraceContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Chatty libraries: their progress lines are not events anyone acts on. httpx and httpcore
    # log whole request URLs, and a partner's URL can carry an NHS number (PDS reads by path).
    for name in ("pgserver", "alembic.runtime.plugins", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Uvicorn's access log prints raw paths; our own request line replaces it.
    logging.getLogger("uvicorn.access").disabled = True
