"""Optimistic concurrency: the ETag is the record's revision; writes must name the one they saw."""

from collections.abc import Callable

from fastapi import Request

from api.errors import ServiceError


class PreconditionRequired(ServiceError):
    status = 428
    type_slug = "precondition-required"
    title = "If-Match required"


class PreconditionFailed(ServiceError):
    status = 412
    type_slug = "precondition-failed"
    title = "Changed since you read it"


def etag(revision: int) -> str:
    return f'"{revision}"'


def require_if_match(request: Request, current_revision: int) -> None:
    """428 without If-Match; 412 unless it names the current revision."""
    header = request.headers.get("if-match")
    if header is None:
        raise PreconditionRequired("Send If-Match with the ETag of the version you are changing.")
    # RFC 9110: If-Match compares strongly (a weak W/ tag never matches); `*` matches any version.
    offered = {tag.strip() for tag in header.split(",")}
    if "*" not in offered and etag(current_revision) not in offered:
        raise PreconditionFailed(
            "Someone else changed this record since you read it; read it again and reapply.",
            headers={"ETag": etag(current_revision)},
        )


def require_no_if_match(request: Request) -> None:
    """Creating: there is no version yet for an If-Match to name."""
    if "if-match" in request.headers:
        raise PreconditionFailed(
            "There is no version of this record yet; send no If-Match to create it."
        )


def version_check(request: Request) -> Callable[[int], None]:
    """`require_if_match` bound to this request, for services that learn the revision under lock."""

    def check(current_revision: int) -> None:
        require_if_match(request, current_revision)

    return check
