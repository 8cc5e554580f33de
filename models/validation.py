"""Readable validation problems for hand-written configuration: `where: what`, never the input."""

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem; our own cross-checks that join several findings with "; " split apart."""
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts = message.split("; ") if error["type"] == "value_error" else [message]
        problems += [f"{location}: {part}" if location else part for part in parts]
    return problems
