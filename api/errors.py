"""One error family, rendered as RFC 9457 problem details (`application/problem+json`).

Services raise `ServiceError` subclasses; the handlers here turn those, HTTP errors and validation
errors into problem documents. Error text never carries an identifier or submitted value.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.log import request_id_var

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://street-triage.nhs.example/problems/"


class InvalidParam(BaseModel):
    location: str = Field(description="Where the problem is, as dotted path: `body.cad_reference`.")
    message: str
    code: str = Field(description="A stable code for the kind of problem.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the request id and, for invalid input, where it failed."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = None


class ServiceError(Exception):
    """A failure a service can name. Subclasses fix the status, type and title."""

    status: ClassVar[int] = 400
    type_slug: ClassVar[str | None] = None
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BodyTooLarge(StarletteHTTPException):
    """Raised while a request body streams in and passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"The request body is larger than the limit of {limit} bytes.")


def problem_response(
    status: int,
    *,
    title: str | None = None,
    type_slug: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    invalid_params: Sequence[InvalidParam] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=PROBLEM_TYPE_BASE + type_slug if type_slug else "about:blank",
        title=title or _phrase(status),
        status=status,
        detail=detail,
        request_id=request_id_var.get(),
        invalid_params=list(invalid_params) if invalid_params is not None else None,
    )
    body = problem.model_dump(exclude_none=True)
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return problem_response(
        exc.status,
        title=exc.title,
        type_slug=exc.type_slug,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Framework messages ("Not Found", "Method Not Allowed") repeat the title; only ours add detail.
    detail = exc.detail if isinstance(exc, BodyTooLarge) else None
    slug = "body-too-large" if isinstance(exc, BodyTooLarge) else None
    return problem_response(exc.status_code, type_slug=slug, detail=detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            400,
            title="Malformed JSON",
            type_slug="malformed-json",
            detail="The request body is not valid JSON.",
        )
    return problem_response(
        422,
        title="Invalid request",
        type_slug="validation",
        detail="One or more values are missing or invalid.",
        invalid_params=[_invalid_param(error) for error in errors],
    )


def _invalid_param(error: Mapping[str, Any]) -> InvalidParam:
    # Pydantic's own message never includes the input; the `input` key is deliberately dropped.
    location = ".".join(str(part) for part in error.get("loc", ()))
    return InvalidParam(
        location=location, message=str(error.get("msg", "")), code=str(error["type"])
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def problem_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for routes, so OpenAPI names every problem a route can return."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses[error.status] = {
            "model": Problem,
            "description": error.title,
            "content": {PROBLEM_CONTENT_TYPE: {}},
        }
    return responses
