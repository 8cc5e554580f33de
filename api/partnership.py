"""Loading the partnership file, with errors that name the problem and where it is."""

from pathlib import Path

import yaml
from pydantic import ValidationError

from models import Partnership
from models.validation import describe_validation_error


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
        raise PartnershipConfigError(path, describe_validation_error(exc)) from None
