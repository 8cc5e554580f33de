"""The clinical safety case kept honest: the hazard log is data, and each control names the tests
that prove it.

Each rule is a function returning the problems it finds, so a broken log fails with every problem
named at once, and each rule is itself tested on small logs broken on purpose: a checker that
cannot fail proves nothing.
"""

import ast
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "safety" / "hazard-log.yaml"
README = ROOT / "safety" / "README.md"

# DCB0129's matrix: MATRIX[likelihood - 1][severity - 1] is the risk rating, 1 very low .. 5 very
# high. Severity columns: minor, significant, considerable, major, catastrophic. Likelihood rows:
# very low, low, medium, high, very high. safety/README.md shows the same table.
MATRIX: tuple[tuple[int, ...], ...] = (
    (1, 1, 2, 2, 3),
    (1, 2, 2, 3, 4),
    (2, 2, 3, 3, 4),
    (2, 3, 3, 4, 5),
    (3, 4, 4, 5, 5),
)

HAZARD_FIELDS = (
    "id",
    "title",
    "tags",
    "cause",
    "effect",
    "initial_risk",
    "controls",
    "residual_risk",
)
EFFECT_FIELDS = ("person", "staff")
CONTROL_FIELDS = ("id", "description", "kind", "tests")
CONTROL_KINDS = {"design", "test", "training", "deployment"}

# The hazards a street triage lookup must be shown to have considered. Each tag must be carried
# by some hazard; a hazard may carry several (the wrong person has four causes).
REQUIRED_TAGS = {
    "false-not-known",
    "false-no-risk",
    "wrong-person",
    "ambiguous-trace",
    "superseded-number",
    "mistyped-number",
    "non-ascii-digits",
    "restricted-location",
    "stale-plan",
    "plan-hidden",
    "wrong-contact-hour",
    "past-deadline",
    "clinical-to-officer",
    "write-lost",
    "cross-organisation",
}

HAZARD_ID = re.compile(r"H[0-9]{2}")
# A test node, function-level: a file under tests/, then a function, or a class and its method.
# Parameter brackets are refused: a control is proven by every case of a test, not one.
NODE_ID = re.compile(r"(tests/[\w/]+\.py)::(?:(\w+)::)?(\w+)")
SUMMARY_ROW = re.compile(r"^\|\s*(H[0-9]{2})\s*\|")

Log = dict[str, Any]


def load(path: Path = LOG) -> Log:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path} must be a mapping with a `hazards` list"
    return document


def hazards_of(log: Log) -> list[dict[str, Any]]:
    hazards = log.get("hazards")
    if not isinstance(hazards, list):
        return []
    return [hazard for hazard in hazards if isinstance(hazard, dict)]


def controls_of(hazard: dict[str, Any]) -> list[dict[str, Any]]:
    controls = hazard.get("controls")
    if not isinstance(controls, list):
        return []
    return [control for control in controls if isinstance(control, dict)]


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


def missing_fields(log: Log) -> list[str]:
    problems: list[str] = []
    hazards = log.get("hazards")
    if not isinstance(hazards, list) or not hazards:
        return ["the log has no `hazards` list"]
    for index, hazard in enumerate(hazards):
        if not isinstance(hazard, dict):
            problems.append(f"hazard #{index + 1} is not a mapping")
            continue
        name = hazard.get("id", f"#{index + 1}")
        problems += [
            f"{name}: no {field}" for field in HAZARD_FIELDS if not _filled(hazard.get(field))
        ]
        if "id" in hazard and not HAZARD_ID.fullmatch(str(hazard["id"])):
            problems.append(f"{name}: id is not H followed by two digits")
        effect = hazard.get("effect")
        if isinstance(effect, dict):
            problems += [
                f"{name}: effect has no {part}"
                for part in EFFECT_FIELDS
                if not _filled(effect.get(part))
            ]
        elif effect is not None:
            problems.append(f"{name}: effect must name `person` and `staff`")
        residual = hazard.get("residual_risk")
        if isinstance(residual, dict) and not _filled(residual.get("rationale")):
            problems.append(f"{name}: residual_risk has no rationale")
        for number, control in enumerate(hazard.get("controls") or []):
            if not isinstance(control, dict):
                problems.append(f"{name}: control #{number + 1} is not a mapping")
                continue
            label = control.get("id", f"{name} control #{number + 1}")
            problems += [
                f"{label}: no {field}"
                for field in CONTROL_FIELDS
                if field not in control or (field != "tests" and not _filled(control[field]))
            ]
            if "kind" in control and control["kind"] not in CONTROL_KINDS:
                problems.append(f"{label}: kind {control['kind']!r} is not one of {CONTROL_KINDS}")
            if "id" in control and not str(control["id"]).startswith(f"{name}-C"):
                problems.append(f"{label}: a control id is its hazard's id, -C and a number")
    return problems


def _rating(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5


def ratings(log: Log) -> list[str]:
    """Each rating is 1-5, each risk is the matrix's for its severity and likelihood, and controls
    never leave a hazard riskier than they found it."""
    problems: list[str] = []
    for hazard in hazards_of(log):
        name = hazard.get("id")
        risks: dict[str, int] = {}
        for which in ("initial_risk", "residual_risk"):
            rated = hazard.get(which)
            if not isinstance(rated, dict):
                problems.append(f"{name}: {which} is not a mapping")
                continue
            out_of_range = [
                part for part in ("severity", "likelihood", "risk") if not _rating(rated.get(part))
            ]
            if out_of_range:
                problems += [f"{name}: {which}.{part} is not 1-5" for part in out_of_range]
                continue
            expected = MATRIX[rated["likelihood"] - 1][rated["severity"] - 1]
            if rated["risk"] != expected:
                problems.append(
                    f"{name}: {which} severity {rated['severity']} x likelihood"
                    f" {rated['likelihood']} is risk {expected} by the matrix, not {rated['risk']}"
                )
            risks[which] = rated["risk"]
        if len(risks) == 2 and risks["residual_risk"] > risks["initial_risk"]:
            problems.append(f"{name}: residual risk is above the initial risk")
    return problems


@cache
def _defined_tests(path: Path) -> frozenset[str]:
    """`function` and `Class::function` for every function and method of a test module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{item.name}" for item in node.body if isinstance(item, functions)
            }
    return frozenset(names)


def unproven_controls(log: Log, root: Path = ROOT) -> list[str]:
    """Each control names tests that exist, or says in `not_proven` why none can; each hazard has
    at least one control a test proves."""
    problems: list[str] = []
    for hazard in hazards_of(log):
        proven = 0
        for control in controls_of(hazard):
            label = control.get("id")
            tests = control.get("tests")
            if not isinstance(tests, list):
                problems.append(f"{label}: tests must be a list of pytest node ids")
                continue
            if not tests:
                if not _filled(control.get("not_proven")):
                    problems.append(f"{label}: names no test and gives no `not_proven` reason")
                continue
            if _filled(control.get("not_proven")):
                problems.append(f"{label}: names tests yet says it is not proven")
            missing = [problem for node in tests for problem in _missing_test(str(node), root)]
            problems += [f"{label}: {problem}" for problem in missing]
            proven += not missing
        if not proven:
            problems.append(f"{hazard.get('id')}: no control is proven by a test")
    return problems


def _missing_test(node: str, root: Path) -> list[str]:
    match = NODE_ID.fullmatch(node)
    if match is None:
        return [f"{node!r} is not a function-level node id (tests/....py::[Class::]test_name)"]
    file, cls, function = match.groups()
    path = root / file
    if not path.is_file():
        return [f"{node}: {file} does not exist"]
    if not function.startswith("test") or (cls is not None and not cls.startswith("Test")):
        return [f"{node}: pytest would not collect it as a test"]
    name = function if cls is None else f"{cls}::{function}"
    if name not in _defined_tests(path):
        return [f"{node}: {file} defines no {name}"]
    return []


def repeated_ids(log: Log) -> list[str]:
    hazard_ids = Counter(hazard.get("id") for hazard in hazards_of(log))
    control_ids = Counter(
        control.get("id") for hazard in hazards_of(log) for control in controls_of(hazard)
    )
    return [
        f"{kind} id {identifier} appears {count} times"
        for kind, counted in (("hazard", hazard_ids), ("control", control_ids))
        for identifier, count in counted.items()
        if count > 1
    ]


def missing_required(log: Log) -> list[str]:
    carried = {
        tag
        for hazard in hazards_of(log)
        if isinstance(hazard.get("tags"), list)
        for tag in hazard["tags"]
    }
    return [f"no hazard is tagged {tag}" for tag in sorted(REQUIRED_TAGS - carried)]


def summary_mismatches(log: Log, readme: str) -> list[str]:
    """The README's summary table: one row per hazard, in the form
    `| H01 | title | 3 (medium) | 2 (low) |`, its ratings the log's."""
    rows: dict[str, list[str]] = {}
    problems: list[str] = []
    for line in readme.splitlines():
        found = SUMMARY_ROW.match(line)
        if found is None:
            continue
        if found[1] in rows:
            problems.append(f"README: {found[1]} has two rows")
        rows[found[1]] = [cell.strip() for cell in line.strip().strip("|").split("|")]
    in_log = {str(hazard.get("id")): hazard for hazard in hazards_of(log)}
    problems += [f"README: no summary row for {name}" for name in in_log if name not in rows]
    problems += [f"README: {name} is not in the log" for name in rows if name not in in_log]
    for name, cells in rows.items():
        hazard = in_log.get(name)
        if hazard is None:
            continue
        if len(cells) < 4:
            problems.append(f"README: {name}'s row needs id, title, initial and residual risk")
            continue
        for cell, which in ((cells[2], "initial_risk"), (cells[3], "residual_risk")):
            rated = hazard.get(which)
            risk = rated.get("risk") if isinstance(rated, dict) else None
            if not cell.startswith(str(risk)):
                problems.append(f"README: {name}'s {which} reads {cell!r}; the log says {risk}")
    return problems


# The log as it stands.


@pytest.fixture(scope="module")
def log() -> Log:
    return load()


def test_every_hazard_and_control_has_its_fields(log: Log) -> None:
    assert missing_fields(log) == []


def test_ratings_are_1_to_5_and_follow_the_matrix(log: Log) -> None:
    assert ratings(log) == []


def test_every_control_names_tests_that_exist(log: Log) -> None:
    assert unproven_controls(log) == []


def test_no_hazard_or_control_id_repeats(log: Log) -> None:
    assert repeated_ids(log) == []


def test_every_required_hazard_is_in_the_log(log: Log) -> None:
    assert missing_required(log) == []


def test_the_readme_summarises_every_hazard(log: Log) -> None:
    assert summary_mismatches(log, README.read_text(encoding="utf-8")) == []


def test_the_matrix_rises_with_severity_and_likelihood() -> None:
    """A typo in the matrix would let every rating pass against the wrong table."""
    for row in range(5):
        for column in range(5):
            if column < 4:
                assert MATRIX[row][column] <= MATRIX[row][column + 1]
            if row < 4:
                assert MATRIX[row][column] <= MATRIX[row + 1][column]
    assert (MATRIX[0][0], MATRIX[4][4], MATRIX[2][2]) == (1, 5, 3)


# The checker, on logs broken on purpose.


def good_hazard(number: int = 1, tags: list[str] | None = None) -> dict[str, Any]:
    name = f"H{number:02d}"
    return {
        "id": name,
        "title": "A hazard",
        "tags": tags or ["false-not-known"],
        "cause": "A cause",
        "effect": {"person": "Harm to the person", "staff": "Harm to the officer"},
        "initial_risk": {"severity": 4, "likelihood": 3, "risk": 3},
        "controls": [
            {
                "id": f"{name}-C1",
                "description": "A control",
                "kind": "design",
                "tests": [
                    "tests/safety/test_hazard_log.py::test_every_control_names_tests_that_exist"
                ],
            }
        ],
        "residual_risk": {"severity": 4, "likelihood": 1, "risk": 2, "rationale": "Because"},
    }


def broken(change: Callable[[dict[str, Any]], None]) -> Log:
    hazard = good_hazard()
    change(hazard)
    return {"hazards": [hazard]}


def test_a_good_log_passes_every_rule() -> None:
    """The baseline for the cases below: each fails only by its own change."""
    log = {"hazards": [good_hazard()]}
    assert missing_fields(log) == ratings(log) == unproven_controls(log) == []
    assert repeated_ids(log) == []
    readme = "| id | title | initial | residual |\n|---|---|---|---|\n| H01 | A hazard | 3 (medium) | 2 (low) |"
    assert summary_mismatches(log, readme) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: h.pop("cause"), "H01: no cause"),
        (lambda h: h.update(title="  "), "H01: no title"),
        (lambda h: h.update(tags=[]), "H01: no tags"),
        (lambda h: h["effect"].pop("staff"), "H01: effect has no staff"),
        (lambda h: h.update(effect="Harm"), "H01: effect must name `person` and `staff`"),
        (lambda h: h["residual_risk"].pop("rationale"), "H01: residual_risk has no rationale"),
        (lambda h: h.update(controls=[]), "H01: no controls"),
        (lambda h: h["controls"][0].pop("description"), "H01-C1: no description"),
        (lambda h: h["controls"][0].pop("tests"), "H01-C1: no tests"),
        (lambda h: h["controls"][0].update(kind="hope"), "H01-C1: kind 'hope' is not one of"),
        (lambda h: h["controls"][0].update(id="C1"), "C1: a control id is its hazard's id"),
        (lambda h: h.update(id="HAZ1"), "HAZ1: id is not H followed by two digits"),
    ],
)
def test_a_missing_field_is_named(change: Callable[[dict[str, Any]], None], problem: str) -> None:
    problems = missing_fields(broken(change))
    assert any(found.startswith(problem) for found in problems), problems


def test_a_log_without_hazards_is_refused() -> None:
    assert missing_fields({}) == ["the log has no `hazards` list"]
    assert missing_fields({"hazards": []}) == ["the log has no `hazards` list"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: h["initial_risk"].update(severity=6), "H01: initial_risk.severity is not 1-5"),
        (
            lambda h: h["initial_risk"].update(likelihood=0),
            "H01: initial_risk.likelihood is not 1-5",
        ),
        (lambda h: h["residual_risk"].update(risk="low"), "H01: residual_risk.risk is not 1-5"),
        (lambda h: h["residual_risk"].update(risk=True), "H01: residual_risk.risk is not 1-5"),
        (
            lambda h: h["initial_risk"].update(risk=4),
            "H01: initial_risk severity 4 x likelihood 3 is risk 3 by the matrix, not 4",
        ),
        (
            lambda h: h.update(
                residual_risk={**h["initial_risk"], "severity": 5, "risk": 4, "rationale": "x"}
            ),
            "H01: residual risk is above the initial risk",
        ),
        (lambda h: h.update(initial_risk=3), "H01: initial_risk is not a mapping"),
    ],
)
def test_a_bad_rating_is_named(change: Callable[[dict[str, Any]], None], problem: str) -> None:
    assert problem in ratings(broken(change))


@pytest.mark.parametrize(
    ("tests", "problem"),
    [
        ([], "H01-C1: names no test and gives no `not_proven` reason"),
        ("tests/api/test_lookup.py::test_x", "H01-C1: tests must be a list of pytest node ids"),
        (["tests/safety/no_such_file.py::test_x"], "tests/safety/no_such_file.py does not exist"),
        (
            ["tests/safety/test_hazard_log.py::test_that_was_never_written"],
            "defines no test_that_was_never_written",
        ),
        (
            ["tests/safety/test_hazard_log.py::test_a_bad_rating_is_named[case]"],
            "is not a function-level node id",
        ),
        (["test_hazard_log.py::test_a_bad_rating_is_named"], "is not a function-level node id"),
        (["tests/safety/test_hazard_log.py::load"], "pytest would not collect it as a test"),
        (
            ["tests/safety/test_hazard_log.py::TestNowhere::test_a_bad_rating_is_named"],
            "defines no TestNowhere::test_a_bad_rating_is_named",
        ),
    ],
)
def test_a_control_without_a_real_test_is_named(tests: Any, problem: str) -> None:
    log = broken(lambda h: h["controls"][0].update(tests=tests))
    problems = unproven_controls(log)
    assert any(problem in found for found in problems), problems
    # Its only control unproven, the hazard has none proven.
    assert "H01: no control is proven by a test" in problems


def test_a_method_of_a_test_class_is_found(tmp_path: Path) -> None:
    module = tmp_path / "tests" / "test_grouped.py"
    module.parent.mkdir()
    module.write_text(
        "class TestGroup:\n    async def test_inside(self) -> None: ...\n"
        "def helper() -> None:\n    def test_nested() -> None: ...\n",
        encoding="utf-8",
    )
    assert _missing_test("tests/test_grouped.py::TestGroup::test_inside", tmp_path) == []
    # Only module-level functions and methods count: pytest collects nothing else.
    assert _missing_test("tests/test_grouped.py::test_inside", tmp_path) != []
    assert _missing_test("tests/test_grouped.py::test_nested", tmp_path) != []


def test_an_unproven_control_must_say_why_and_the_hazard_needs_another_proven() -> None:
    training = {
        "id": "H01-C2",
        "description": "Officers are trained",
        "kind": "training",
        "tests": [],
        "not_proven": "Evidence is the deploying organisation's training record.",
    }
    log = broken(lambda h: h["controls"].append(training))
    assert unproven_controls(log) == []
    claims_both = broken(lambda h: h["controls"][0].update(not_proven="No test"))
    assert unproven_controls(claims_both) == ["H01-C1: names tests yet says it is not proven"]


def test_a_repeated_id_is_named() -> None:
    twice = {"hazards": [good_hazard(), good_hazard()]}
    assert repeated_ids(twice) == [
        "hazard id H01 appears 2 times",
        "control id H01-C1 appears 2 times",
    ]
    control_twice = broken(lambda h: h["controls"].append(dict(h["controls"][0])))
    assert repeated_ids(control_twice) == ["control id H01-C1 appears 2 times"]


def test_a_missing_required_hazard_is_named() -> None:
    every = {"hazards": [good_hazard(tags=sorted(REQUIRED_TAGS))]}
    assert missing_required(every) == []
    without = {"hazards": [good_hazard(tags=sorted(REQUIRED_TAGS - {"stale-plan"}))]}
    assert missing_required(without) == ["no hazard is tagged stale-plan"]


@pytest.mark.parametrize(
    ("readme", "problem"),
    [
        ("No table at all.", "README: no summary row for H01"),
        (
            "| H01 | A hazard | 4 (high) | 2 (low) |",
            "README: H01's initial_risk reads '4 (high)'; the log says 3",
        ),
        ("| H01 | A hazard | 3 (medium) | 1 (very low) |", "README: H01's residual_risk reads"),
        (
            "| H01 | A hazard | 3 (medium) | 2 (low) |\n| H02 | Gone | 1 | 1 |",
            "README: H02 is not in the log",
        ),
        ("| H01 | A hazard |", "README: H01's row needs id, title, initial and residual risk"),
        ("| H01 | A | 3 | 2 |\n| H01 | A | 3 | 2 |", "README: H01 has two rows"),
    ],
)
def test_a_summary_out_of_step_with_the_log_is_named(readme: str, problem: str) -> None:
    problems = summary_mismatches({"hazards": [good_hazard()]}, readme)
    assert any(found.startswith(problem) for found in problems), problems
