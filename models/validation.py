"""Validation shared across the domain: readable problems for hand-written configuration, the
characters free text may hold, and the years a date may fall in.

Free text may hold tab, newline and a tablet's CRLF line ending, and no other control character:
a NUL is refused by PostgreSQL (a 500 if it got that far), and a lone carriage return or an escape
sequence rewrites what a reader of a log line, a CSV export or a terminal sees. An unpaired
surrogate cannot be encoded as UTF-8 at all. Dates outside 1900-2100 are typing mistakes or probes
(a report for the years 9995-9999 overflowed the calendar arithmetic), never a street triage event.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, ValidationError

EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
# Every control character (Unicode category Cc: C0, DEL and C1) but tab and newline; a carriage
# return unless a newline follows; and the surrogates (Cs), which only ever come unpaired here.
_REFUSED_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]|\r(?!\n)")

Location = tuple[str | int, ...]
Dated = TypeVar("Dated", date, datetime)


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem; our own cross-checks that join several findings with "; " split apart."""
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts = message.split("; ") if error["type"] == "value_error" else [message]
        problems += [f"{location}: {part}" if location else part for part in parts]
    return problems


def has_refused_character(text: str) -> bool:
    """Whether the text holds a control character other than tab, newline or a CR ending a line
    (CRLF), or an unpaired surrogate."""
    return _REFUSED_CHARACTER.search(text) is not None


def refused_text(value: object, location: Location = ()) -> Iterator[Location]:
    """Where, in a parsed JSON document or form, a string or an object key holds a refused
    character. Every string is looked at, whatever schema the document is validated against."""
    if isinstance(value, str):
        if has_refused_character(value):
            yield location
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and has_refused_character(key):
                yield location
            else:
                yield from refused_text(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from refused_text(item, (*location, index))


def within_years(value: Dated) -> Dated:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must fall in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


# For every date and time a request carries, in a body or a query.
PlausibleDate = Annotated[date, AfterValidator(within_years)]
PlausibleDatetime = Annotated[datetime, AfterValidator(within_years)]
