"""Loading the partnership file, with errors that name the problem and where it is."""

from pathlib import Path

import yaml
from pydantic import ValidationError

from models import Partnership


class PartnershipConfigError(Exception):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"partnership file {path} is not valid:\n{lines}")


def load_partnership(path: Path) -> Partnership:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PartnershipConfigError(path, [f"cannot be read ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PartnershipConfigError(path, [f"is not valid YAML{where}"]) from None
    if not isinstance(raw, dict):
        raise PartnershipConfigError(
            path, ["must be a mapping with `organisations` and `agreement`"]
        )
    try:
        return Partnership.model_validate(raw)
    except ValidationError as exc:
        raise PartnershipConfigError(path, _describe(exc)) from None


def _describe(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "value_error":
            # Our cross-reference checks join several findings with "; ".
            problems += [
                f"{location}: {part}" if location else part for part in message.split("; ")
            ]
        else:
            problems.append(f"{location}: {message}" if location else message)
    return problems
