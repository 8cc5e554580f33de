"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

The API runs as `triage serve` in a process of its own, on a database of its own, with the partner
simulator behind it. Every operation in the document is called with generated input, once with the
token of each role and purpose, and every response must: not be a 5xx; have a status the document
declares for that operation; have the declared content type and conform to the declared schema;
and, if an error, be problem+json. Examples are derandomised, so a failure reproduces.
"""

import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok

from tests.database import scratch_database
from tests.factories import incident_payload
from tests.processes import api_process, exchange_form, simulated_partnership, simulator_process

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# (role, organisation, purpose, bound to the fuzz incident)
TOKENS = [
    ("officer", "NSP", "street-triage", False),
    ("officer", "NSP", "street-triage", True),
    ("mh_practitioner", "RQI", "crisis-planning", False),
    ("supervisor", "NSP", "supervision", False),
    ("ig_officer", "NSP", "audit", False),
]


@dataclass
class FuzzedApi:
    base_url: str
    incident_id: str
    # Each role's token headers, and whether the token is bound to the incident above.
    callers: list[tuple[dict[str, str], bool]]


@pytest.fixture(scope="module")
async def fuzz_database(database_server_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_server_url, prefix="triage_fuzz") as url:
        yield url


@pytest.fixture(scope="module")
def fuzzed_api(fuzz_database: str, module_simulator: str) -> Iterator[FuzzedApi]:
    directory = Path(tempfile.mkdtemp(prefix="triage-fuzz-"))
    environment = {
        "TRIAGE_DATABASE_URL": fuzz_database,
        "TRIAGE_PARTNERSHIP_FILE": str(simulated_partnership(directory, module_simulator)),
        "TRIAGE_LOOKUP_DEADLINE_SECONDS": "1.0",
    }
    with (
        api_process(directory, environment) as served,
        httpx.Client(base_url=served.base_url, trust_env=False, timeout=10) as client,
    ):

        def token(role: str, org: str, purpose: str, **form: str) -> str:
            data = exchange_form(served.keys_dir, role, org, purpose, **form)
            response = client.post("/v1/token", data=data)
            assert response.status_code == 200, response.text
            issued: str = response.json()["access_token"]
            return issued

        opener = token("officer", "NSP", "street-triage")
        incident = client.post(
            "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
        )
        assert incident.status_code == 201, incident.text
        incident_id = incident.json()["id"]
        callers = []
        for role, org, purpose, bound in TOKENS:
            form = {"incident_id": incident_id} if bound else {}
            callers.append(
                ({"authorization": f"Bearer {token(role, org, purpose, **form)}"}, bound)
            )
        yield FuzzedApi(served.base_url, incident_id, callers)


@pytest.fixture(scope="module")
def module_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with simulator_process(tmp_path_factory.mktemp("sim")) as base:
        yield base


def test_every_operation_answers_as_documented(fuzzed_api: FuzzedApi) -> None:
    """One Hypothesis run per operation; every failure is collected, then all are reported."""
    schema = schemathesis.openapi.from_url(f"{fuzzed_api.base_url}/openapi.json")
    failures: list[str] = []
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "every operation in the document must load"
    assert len(operations) > 30  # the document really lists the API

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: schemathesis.Case[Any]) -> None:
            generated = dict(case.path_parameters or {})
            for headers, bound in fuzzed_api.callers:
                # The bound token is aimed at its own incident, so the fuzzing gets past the
                # binding check into subjects, assessments, outcomes and lookups.
                if bound and "incident_id" in generated:
                    case.path_parameters = generated | {"incident_id": fuzzed_api.incident_id}
                else:
                    case.path_parameters = generated
                response = case.call(base_url=fuzzed_api.base_url, headers=headers, timeout=15)
                case.validate_response(response, checks=CHECKS, headers=headers)
                if response.status_code >= 400:
                    content_type = response.headers.get("content-type", [""])[0]
                    assert content_type.startswith("application/problem+json"), response.text
                    assert response.json()["status"] == response.status_code
                    assert "Traceback" not in response.text

        try:
            answers_as_documented()
        except Exception as exc:
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
