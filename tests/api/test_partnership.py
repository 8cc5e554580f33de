"""A broken partnership file stops start-up with a message that names the problem."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI

from api.app import create_app
from api.partnership import PartnershipConfigError, load_partnership
from api.settings import DEMO_PARTNERSHIP_FILE, Settings

Mutation = Callable[[dict[str, Any]], None]


def demo() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    return loaded


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "partnership.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def access_rule(document: dict[str, Any], role: str, kind: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = document["agreement"]["access"]
    return next(r for r in rules if r["role"] == role and r["organisation_kind"] == kind)


def test_demo_partnership_is_valid() -> None:
    partnership = load_partnership(DEMO_PARTNERSHIP_FILE)
    assert [org.kind.value for org in partnership.organisations].count("nhs_trust") == 2
    assert [org.kind.value for org in partnership.organisations].count("police_force") == 1


def _unknown_kind(doc: dict[str, Any]) -> None:
    doc["organisations"][0]["kind"] = "ambulance_trust"


def _duplicate_code(doc: dict[str, Any]) -> None:
    doc["organisations"].append(copy.deepcopy(doc["organisations"][1]) | {"name": "Copy"})


def _unknown_data_class(doc: dict[str, Any]) -> None:
    access_rule(doc, "officer", "police_force")["data_classes"].append("diagnosis")


def _unknown_purpose(doc: dict[str, Any]) -> None:
    access_rule(doc, "officer", "police_force")["purposes"].append("curiosity")


def _purpose_not_allowed_for_role(doc: dict[str, Any]) -> None:
    access_rule(doc, "officer", "police_force")["purposes"].append("break-glass")


def _unknown_role(doc: dict[str, Any]) -> None:
    access_rule(doc, "officer", "police_force")["role"] = "detective"


def _duplicate_access(doc: dict[str, Any]) -> None:
    doc["agreement"]["access"].append(copy.deepcopy(access_rule(doc, "officer", "police_force")))


def _unknown_legal_basis(doc: dict[str, Any]) -> None:
    doc["agreement"]["purposes"][0]["legal_basis"].append("because-we-can")


def _lifetime_over_cap(doc: dict[str, Any]) -> None:
    doc["agreement"]["purposes"][0]["token_lifetime_seconds"] = 3600


def _misspelt_key(doc: dict[str, Any]) -> None:
    doc["agreement"]["retension"] = doc["agreement"]["retention"]


def _missing_section(doc: dict[str, Any]) -> None:
    del doc["agreement"]["retention"]


def _trust_endpoint_of_a_force(doc: dict[str, Any]) -> None:
    doc["partners"] = [
        {
            "name": "nsp-fhir",
            "kind": "fhir_trust",
            "organisation_code": "NSP",
            "base_url": "https://x.test/",
        }
    ]


def _duplicate_partner(doc: dict[str, Any]) -> None:
    doc["partners"] = [{"name": "pds", "kind": "pds", "base_url": "https://x.test/"}] * 2


def _unknown_partner_kind(doc: dict[str, Any]) -> None:
    doc["partners"] = [
        {"name": "scr", "kind": "summary_care_record", "base_url": "https://x.test/"}
    ]


def _kind_without_organisations(doc: dict[str, Any]) -> None:
    doc["organisations"] = [org for org in doc["organisations"] if org["kind"] != "police_force"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_unknown_kind, "organisations.0.kind: Input should be 'police_force' or 'nhs_trust'"),
        (_duplicate_code, "duplicate organisation code 'RQI'"),
        (_unknown_data_class, "agreement.access.0.data_classes.7: Input should be"),
        (_unknown_purpose, "access for role 'officer' names unknown purpose 'curiosity'"),
        (
            _purpose_not_allowed_for_role,
            "gives role 'officer' purpose 'break-glass', which that purpose does not allow",
        ),
        (_unknown_role, "agreement.access.0.role: Input should be"),
        (_duplicate_access, "access for role 'officer' in 'police_force' is given twice"),
        (
            _unknown_legal_basis,
            "purpose 'street-triage' names unknown legal basis 'because-we-can'",
        ),
        (
            _lifetime_over_cap,
            "agreement.purposes.0.token_lifetime_seconds: Input should be less than or equal to 900",
        ),
        (_misspelt_key, "agreement.retension: Extra inputs are not permitted"),
        (_missing_section, "agreement.retention: Field required"),
        (_kind_without_organisations, "no organisation of that kind takes part"),
        (
            _trust_endpoint_of_a_force,
            "partner 'nsp-fhir' is a trust endpoint, so its organisation_code must be",
        ),
        (_duplicate_partner, "duplicate partner 'pds'"),
        (_unknown_partner_kind, "partners.0.kind: Input should be 'pds', 'nrl' or 'fhir_trust'"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] if callable(value) else "",
)
def test_broken_partnership_names_the_problem(
    tmp_path: Path, mutate: Mutation, expected: str
) -> None:
    document = demo()
    mutate(document)
    path = write(tmp_path, document)
    with pytest.raises(PartnershipConfigError) as caught:
        load_partnership(path)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message


def test_unknown_data_class_is_named(tmp_path: Path) -> None:
    document = demo()
    _unknown_data_class(document)
    with pytest.raises(PartnershipConfigError) as caught:
        load_partnership(write(tmp_path, document))
    assert "'crisis_flag'" in str(caught.value)  # the known classes are listed


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PartnershipConfigError, match="cannot be read"):
        load_partnership(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisations: [\n  - code: NSP\n agreement")
    with pytest.raises(PartnershipConfigError, match="is not valid YAML at line"):
        load_partnership(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(PartnershipConfigError, match="must be a mapping"):
        load_partnership(bad)


async def test_broken_partnership_stops_app_start_up(tmp_path: Path, settings: Settings) -> None:
    document = demo()
    _duplicate_code(document)
    app: FastAPI = create_app(
        settings.model_copy(update={"partnership_file": write(tmp_path, document)})
    )
    with pytest.raises(PartnershipConfigError, match="duplicate organisation code 'RQI'"):
        async with app.router.lifespan_context(app):
            pass
