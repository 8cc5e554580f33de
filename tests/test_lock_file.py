"""The lock file pins every dependency the project names: a dependency added without locking it
would install at whatever version is newest that day."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_named_dependency_is_pinned_in_the_lock_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = list(project["dependencies"])
    for extra in ("test", "dev"):
        named += project["optional-dependencies"][extra]
    wanted = set()
    for requirement in named:
        match = NAME.match(requirement)
        assert match, requirement
        wanted.add(normalised(match.group(0)))
    pinned = {
        normalised(line.split("==", 1)[0])
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert wanted - pinned == set()
