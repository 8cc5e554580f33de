"""The published NHS payloads the simulator answers with, verbatim.

Sources: the PDS FHIR API sandbox examples and the NRL (NRLF) example pointers, shipped as package
data in `sim/payloads/` (the same files as `tests/fixtures/`; a test checks they are still equal).
They are templates: `sim.fhir` copies them and changes only ids, numbers and, for extra synthetic
people, names. Never mutate them. Read once when the simulator, a tool, is imported.
"""

import json
from importlib import resources
from typing import Any, Final


def _load(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        resources.files("sim").joinpath("payloads", relative).read_text(encoding="utf-8")
    )
    return loaded


# PDS `GET Patient/{nhs}`: normal (9000000009), restricted (9000000025), minimal (9000000033).
PATIENT: Final = _load("pds/Patient.json")
SENSITIVE_PATIENT: Final = _load("pds/Sensitive_Patient.json")
MINIMAL_PATIENT: Final = _load("pds/Minimal_Patient.json")
# PDS demographic search: a searchset with one scored match.
PATIENT_SEARCH: Final = _load("pds/PatientSearch.json")
# PDS errors, as OperationOutcome.
ERROR_RESOURCE_NOT_FOUND: Final = _load("pds/error_RESOURCE_NOT_FOUND.json")
ERROR_INVALIDATED_RESOURCE: Final = _load("pds/error_INVALIDATED_RESOURCE.json")
ERROR_INVALID_RESOURCE_ID: Final = _load("pds/error_INVALID_RESOURCE_ID.json")
# NRL pointer to a mental health crisis plan held by RQI.
CRISIS_PLAN_POINTER: Final = _load("nrl/nrlf_RQI-736253002-Valid.json")
