"""Every string a request carries, checked once for the characters free text may not hold.

An app-wide dependency rather than a constrained type on each model field: it looks at the parsed
body (JSON or form), the query and the path as sent, so no field can be missed, whether declared
today, added tomorrow with a plain `str`, or nested in a free-form object. It runs after FastAPI
has parsed the body (a malformed one is already a 400) and before any route dependency touches the
database, so a NUL never reaches PostgreSQL, whose refusal would be a 500.
"""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api.anonymous import count_anonymous_refusal, may_hold_a_token
from models import AuditAction
from models.validation import Location, refused_text

MESSAGE = "holds a control character other than tab, newline or CRLF, or an unpaired surrogate"


async def refuse_control_characters(request: Request) -> None:
    """422 naming every field that holds a refused character (see `models.validation`)."""
    found: list[Location] = []
    for name, value in request.path_params.items():
        found += [("path", name, *inner) for inner in refused_text(value)]
    for name, value in request.query_params.multi_items():
        found += [("query", name, *inner) for inner in refused_text(value)]
    found += await _refused_in_body(request)
    if found:
        route = request.scope.get("route")
        if isinstance(route, APIRoute) and not may_hold_a_token(request.headers.raw):
            # Checked before any token is: a caller without one is counted and held to the
            # anonymous rate like any other refusal, or these 422s would be a free flood.
            count_anonymous_refusal(
                request, AuditAction.access_refuse, route.path, "control_character"
            )
        raise RequestValidationError(
            [
                {"type": "control_character", "loc": location, "msg": MESSAGE, "input": None}
                for location in found
            ]
        )


async def _refused_in_body(request: Request) -> list[Location]:
    """In the body the route reads, as FastAPI parsed it (the parse is cached on the request).
    A route that takes no body never reads one, so what was sent there is no matter."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return []
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return [
            ("body", name, *inner)
            for name, value in form.multi_items()
            if isinstance(value, str)
            for inner in refused_text(value)
        ]
    if not await request.body():
        return []
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        return []  # FastAPI reads only JSON bodies into models; it refuses the rest itself
    try:
        document = await request.json()
    except (ValueError, RecursionError):
        # Not JSON, or nested past what can be walked: FastAPI answers that itself (400 for
        # malformed JSON), and nothing of it reaches the database.
        return []
    return [("body", *inner) for inner in refused_text(document)]
