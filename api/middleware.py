"""The outermost layer of every request: request and correlation ids, body limit, access log,
metrics, last-resort 500.

Pure ASGI rather than BaseHTTPMiddleware, so it never buffers a body and sees exceptions first.
"""

import logging
import re
import time
import uuid
from contextvars import Token
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.database import database_unavailable
from api.errors import BodyTooLarge, problem_response
from api.log import correlation_id_var, request_id_var
from api.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
# What a caller's id must look like to be echoed, logged and passed on to partners.
CALLER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
UNMATCHED_ROUTE = "<unmatched>"

logger = logging.getLogger("api.request")


@dataclass(frozen=True)
class CallerIds:
    """The request's id, and the correlation id its caller sent, as accepted from its headers."""

    request_id: str
    correlation_id: str | None

    @classmethod
    def from_headers(cls, headers: Headers) -> "CallerIds":
        offered = headers.get(CORRELATION_ID_HEADER)
        return cls(
            request_id=_accept_caller_id(headers.get(REQUEST_ID_HEADER)),
            correlation_id=None if offered is None else _accept_caller_id(offered),
        )

    def bind(self) -> tuple[Token[str | None], Token[str | None]]:
        """Made current for the request's logs, errors, audit events and partner calls."""
        # Partners are sent the caller's correlation id, so their logs meet the caller's; without
        # one, our request id, so they meet ours.
        return (
            request_id_var.set(self.request_id),
            correlation_id_var.set(self.correlation_id or self.request_id),
        )

    def unbind(self, tokens: tuple[Token[str | None], Token[str | None]]) -> None:
        request_id_var.reset(tokens[0])
        correlation_id_var.reset(tokens[1])

    def echo(self, headers: MutableHeaders) -> None:
        headers[REQUEST_ID_HEADER] = self.request_id
        if self.correlation_id is not None:
            headers[CORRELATION_ID_HEADER] = self.correlation_id

    def log_fields(self) -> dict[str, str]:
        return {} if self.correlation_id is None else {"correlation_id": self.correlation_id}


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started_at = time.perf_counter()
        headers = Headers(scope=scope)
        ids = CallerIds.from_headers(headers)
        bound = ids.bind()
        status = 500
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                ids.echo(response_headers)
                response_headers.setdefault("cache-control", "no-store")
                response_headers.setdefault("x-content-type-options", "nosniff")
            await send(message)

        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            if _declared_length(headers) > self.max_body_bytes:
                # Refused on the declared length alone: nothing of the body is read.
                response = problem_response(
                    413,
                    type_slug="body-too-large",
                    detail=BodyTooLarge(self.max_body_bytes).detail,
                    headers={"connection": "close"},
                )
                await response(scope, receive, send_with_context)
            else:
                await self.app(scope, receive_with_limit, send_with_context)
        except Exception as exc:
            if response_started:
                logger.exception("http.response.aborted")
            else:
                await self._render_failure(exc, scope, receive, send_with_context)
        finally:
            route = _route_template(scope)
            elapsed = time.perf_counter() - started_at
            labels = (scope["method"], route, str(status))
            self.metrics.http_requests.labels(*labels).inc()
            self.metrics.http_request_duration.labels(*labels).observe(elapsed)
            logger.info(
                "http.request",
                extra={
                    "fields": {
                        "http.request.method": scope["method"],
                        "http.route": route,
                        "http.response.status_code": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        **ids.log_fields(),
                    }
                },
            )
            ids.unbind(bound)

    async def _render_failure(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if isinstance(exc, BodyTooLarge):
            response = problem_response(413, type_slug="body-too-large", detail=exc.detail)
        elif database_unavailable(exc):
            # Nothing was committed: the transaction dies with the connection. Worth a retry.
            logger.error(
                "http.database_unavailable", extra={"fields": {"error.type": type(exc).__name__}}
            )
            response = problem_response(
                503,
                type_slug="database-unavailable",
                detail="The service cannot reach its database just now; nothing was saved. Try again shortly.",
                headers={"retry-after": "5"},
            )
        else:
            logger.error("http.unhandled_exception", exc_info=exc)
            response = problem_response(
                500,
                type_slug="internal-error",
                detail="The server could not complete the request. Quote the request id when reporting it.",
            )
        await response(scope, receive, send)


def _accept_caller_id(offered: str | None) -> str:
    # A caller's id is echoed, logged and sent on, so only a short, plain token is taken; anything
    # else is replaced rather than refused, because a bad header must not cost an officer their
    # answer.
    if offered is not None and CALLER_ID_PATTERN.fullmatch(offered):
        return offered
    return str(uuid.uuid4())


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


def _route_template(scope: Scope) -> str:
    # The template, never the raw path: paths may carry identifiers, and raw paths explode cardinality.
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE
