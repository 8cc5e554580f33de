"""A client generated from the OpenAPI document works as generated.

openapi-python-client generates a Python client from the `/openapi.json` that `triage serve` serves,
here, in the test; the officer's flow of the README's "Try it in the demo" then runs through it
against that server and the partner simulator, with no header written by hand: the token goes in
as the client's credential, `Idempotency-Key` as the argument the document declares, and every
answer is parsed into the class the document names for its status. Unexpected statuses raise.

The generator is in the `test` extra. Without it the test skips, saying so, unless
TRIAGE_REQUIRE_CLIENT_GENERATOR=1 (as in CI), when it fails.
"""

import importlib
import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.database import scratch_database
from tests.factories import incident_payload
from tests.processes import (
    ApiProcess,
    api_process,
    exchange_form,
    simulated_partnership,
    simulator_process,
)

REQUIRE_GENERATOR = "TRIAGE_REQUIRE_CLIENT_GENERATOR"
KNOWN_TO_RQI = "9000000009"
# No formatter run over the generated code: the test needs the code, not its looks.
GENERATOR_CONFIG = "post_hooks: []\n"


def require_generator() -> None:
    if importlib.util.find_spec("openapi_python_client") is not None:
        return
    reason = "openapi-python-client is not installed (pip install -e '.[test]')"
    if os.environ.get(REQUIRE_GENERATOR) == "1":
        pytest.fail(f"{REQUIRE_GENERATOR}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
async def client_database(database_server_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_server_url, prefix="triage_client") as url:
        yield url


@pytest.fixture(scope="module")
def served(client_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    require_generator()  # before any process is started for nothing
    directory = tmp_path_factory.mktemp("client")
    with simulator_process(directory) as simulator:
        environment = {
            "TRIAGE_DATABASE_URL": client_database,
            "TRIAGE_PARTNERSHIP_FILE": str(simulated_partnership(directory, simulator)),
        }
        with api_process(directory, environment) as api:
            yield api


def generate_client(document_url: str, directory: Path) -> ModuleType:
    """The package openapi-python-client generates from the document at `document_url`."""
    config = directory / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    package = f"triage_client_{uuid.uuid4().hex[:8]}"
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--url",
            document_url,
            "--meta",
            "none",
            "--output-path",
            str(directory / package),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # A warning means part of the document could not be turned into code.
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(directory))


def generated(package: ModuleType, module: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{module}")


def test_the_officers_readme_flow_runs_through_a_generated_client(
    served: ApiProcess, tmp_path: Path
) -> None:
    client = generate_client(f"{served.base_url}/openapi.json", tmp_path)
    run_officer_flow(client, served)


def run_officer_flow(package: ModuleType, served: ApiProcess) -> None:
    root = generated(package, "client")
    models = generated(package, "models")
    exchange = generated(package, "api.tokens.exchange_identity_token")
    revoke = generated(package, "api.tokens.revoke_token")
    open_incident = generated(package, "api.incidents.open_incident")
    read_incident = generated(package, "api.incidents.read_incident")
    look_up = generated(package, "api.crisis_flags.lookup_crisis_flag")
    options: dict[str, Any] = {
        "base_url": served.base_url,
        "timeout": httpx.Timeout(15),
        "raise_on_unexpected_status": True,
        "httpx_args": {"trust_env": False},
    }
    public = root.Client(**options)

    def token(role: str, org: str, **form: str) -> str:
        body = models.TokenExchangeRequest.from_dict(
            exchange_form(served.keys_dir, role, org, "street-triage", **form)
        )
        answer = exchange.sync(client=public, body=body)
        assert isinstance(answer, models.TokenResponse), answer
        issued: str = answer.access_token
        return issued

    # 1-2. an identity token exchanged for one that may open an incident, and the incident opened
    opener = root.AuthenticatedClient(token=token("officer", "NSP"), **options)
    body = models.IncidentCreate.from_dict(incident_payload())
    opened = open_incident.sync_detailed(client=opener, body=body, idempotency_key="car-7-0001")
    assert opened.status_code == 201
    incident = opened.parsed
    assert isinstance(incident, models.IncidentRead)
    assert opened.headers["location"] == f"/v1/incidents/{incident.id}"
    # The same request again, as a car on a bad line would send it: the same incident, replayed.
    again = open_incident.sync_detailed(client=opener, body=body, idempotency_key="car-7-0001")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parsed.id == incident.id

    # 3. a token bound to that incident, and the incident read with it
    bound_token = token("officer", "NSP", incident_id=str(incident.id))
    bound = root.AuthenticatedClient(token=bound_token, **options)
    read = read_incident.sync(client=bound, incident_id=incident.id)
    assert isinstance(read, models.IncidentRead)
    assert read.cad_reference == incident.cad_reference

    # 4. the officer's lookup parses as the officer's answer, with nothing left over
    answer = look_up.sync(
        client=bound, incident_id=incident.id, body=models.LookupRequest(nhs_number=KNOWN_TO_RQI)
    )
    assert isinstance(answer, models.OfficerFlag), answer
    assert answer.view == "officer"
    assert answer.additional_properties == {}
    assert answer.plans, "the simulator's RQI plan for this person"

    # 5. the practitioner's parses as the practitioner's: the clinical part in its own fields
    nurse = root.AuthenticatedClient(
        token=token("mh_practitioner", "RQI", incident_id=str(incident.id)), **options
    )
    clinical = look_up.sync(
        client=nurse, incident_id=incident.id, body=models.LookupRequest(nhs_number=KNOWN_TO_RQI)
    )
    assert isinstance(clinical, models.PractitionerFlag), clinical
    assert clinical.view == "practitioner"
    assert clinical.additional_properties == {}
    assert clinical.plans[0].clinical is not None

    # 7. the officer's token revoked: the next request is a declared 401, parsed as a problem
    revoked = revoke.sync_detailed(client=public, body=models.RevokeTokenForm(token=bound_token))
    assert revoked.status_code == 200
    refused = read_incident.sync_detailed(client=bound, incident_id=incident.id)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.headers["x-request-id"]
