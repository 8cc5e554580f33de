"""Loading the partnership file, with errors that name the problem and where it is."""

from pathlib import Path

import yaml
from pydantic import ValidationError

from auth.issuers import LOOPBACK_HOSTS
from models import Partnership
from models.validation import describe_validation_error


class PartnershipConfigError(Exception):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"partnership file {path} is not valid:\n{lines}")


def load_partnership(path: Path, *, require_https: bool = False) -> Partnership:
    """The partnership file, validated. `require_https` (everywhere but development): every
    partner is called over https, a partner on this machine (a sidecar) excepted."""
    partnership = _read_partnership(path)
    if require_https:
        plain = sorted(
            {
                partner.name
                for partner in partnership.partners
                for url in (partner.base_url, partner.auth.token_url if partner.auth else None)
                if url is not None and url.scheme != "https" and url.host not in LOOPBACK_HOSTS
            }
        )
        if plain:
            raise PartnershipConfigError(
                path,
                [
                    f"partner {name} is reached over plain HTTP; outside development partners"
                    " are called over https"
                    for name in plain
                ],
            )
    return partnership


def _read_partnership(path: Path) -> Partnership:
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
