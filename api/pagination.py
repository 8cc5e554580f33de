"""Keyset pagination: an opaque cursor naming the sort key of the last row a page showed.

Lists sorted newest first on `(moment, id)` fetch `limit + 1` rows after the cursor; the extra row
only says whether another page exists. A cursor is only ever one this API gave out: anything else
is refused with 400, and the refusal never repeats it.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from api.errors import ServiceError

T = TypeVar("T")
SortKey = tuple[datetime, uuid.UUID]


class InvalidCursor(ServiceError):
    status = 400
    type_slug = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(moment: datetime, identifier: uuid.UUID) -> str:
    raw = json.dumps([moment.isoformat(), str(identifier)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("not a pair")
        moment, identifier = datetime.fromisoformat(value[0]), uuid.UUID(value[1])
        # We only give out aware timestamps; a naive one could not be compared with the column.
        if moment.tzinfo is None:
            raise ValueError("no time zone")
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise InvalidCursor("cursor is not one this API gave out.") from None
    return moment, identifier


def page_of(
    rows: Sequence[T], limit: int, key: Callable[[T], SortKey]
) -> tuple[list[T], str | None]:
    """The page out of the `limit + 1` rows fetched, and the next page's cursor if there is one."""
    page = list(rows[:limit])
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit else None
