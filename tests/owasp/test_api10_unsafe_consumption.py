"""API10:2023 Unsafe Consumption of APIs.

Partner answers are input like any other. Each partner in turn (PDS, the National Record Locator,
a trust's FHIR endpoint) answers a real lookup with a payload it should not: malformed JSON, the
wrong resource type, a body over the size cap (declared, or streamed without a length), an NHS
number failing Modulus 11, a record about another person, a JSON body under a non-JSON content
type, fields past their bounds. Each time the lookup is still a 200, that source alone is `error`,
the answer falls back to "could not check" (`unknown`), never to "nothing known", and nothing of
the bad payload (a marker planted in it) reaches the answer or the audit trail.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from tests.conftest import Exchanger
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import (
    HOSTS,
    FakePartners,
    _plan,
    _pointer,
    _searchset,
    fhir,
    fixture,
)

MARKER = "UNTRUSTED-PAYLOAD-MARKER"
KNOWN_TO_NO_ONE = "9000000033"  # in PDS; no record anywhere: every record source says not found
IN_PDS = "9000000009"
ANOTHER_PERSON = "9000000009"
FAILS_MODULUS_11 = "9000000008"
CAP = 1024 * 1024  # the partners' default max_response_bytes

BadAnswer = Callable[[httpx.Request], httpx.Response]


@dataclass
class UntrustworthyPartners(FakePartners):
    """The faked partners, one of which answers with `bad` instead of its proper answer."""

    bad: dict[str, BadAnswer] = field(default_factory=dict)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        partner = HOSTS[request.url.host]
        if partner in self.bad:
            self.requests.append(request)
            return self.bad[partner](request)
        return await super().handle(request)


@pytest.fixture
def partners() -> UntrustworthyPartners:
    return UntrustworthyPartners()


@pytest.fixture
def partner_transport(partners: UntrustworthyPartners) -> httpx.AsyncBaseTransport:
    return partners.transport()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


# --- bad answers ---------------------------------------------------------------------------------


def raw(content: bytes, content_type: str = "application/fhir+json") -> BadAnswer:
    return lambda request: httpx.Response(
        200, content=content, headers={"content-type": content_type}
    )


def as_json(body: Any, content_type: str = "application/fhir+json") -> BadAnswer:
    return raw(json.dumps(body).encode(), content_type)


def streamed_oversized(request: httpx.Request) -> httpx.Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Bundle", "entry": [], "padding": "' + MARKER.encode()
        for _ in range(CAP // (64 * 1024) + 2):
            yield b"x" * 64 * 1024
        yield b'"}'

    return httpx.Response(200, headers={"content-type": "application/fhir+json"}, content=chunks())


def declared_oversized(request: httpx.Request) -> httpx.Response:
    body = {"resourceType": "Bundle", "entry": [], "padding": MARKER + "x" * (2 * CAP)}
    return fhir(200, body)


def marked_plan(nhs: str) -> dict[str, Any]:
    return _plan(nhs, "2030-01-01", MARKER)


def trust_answer(
    nhs: str, *, content_type: str = "application/fhir+json", plans: int = 1
) -> BadAnswer:
    """A trust's searchsets about `nhs`: no flags, and `plans` active plans carrying the marker."""

    def answer(request: httpx.Request) -> httpx.Response:
        resources = [] if request.url.path.endswith("/Flag") else [marked_plan(nhs)] * plans
        return as_json(_searchset(resources), content_type)(request)

    return answer


def trust_overlong_text(request: httpx.Request) -> httpx.Response:
    plan = marked_plan(KNOWN_TO_NO_ONE)
    plan["extension"][0]["valueString"] = MARKER + "x" * 5000
    resources = [] if request.url.path.endswith("/Flag") else [plan]
    return fhir(200, _searchset(resources))


def nrl_answer(nhs: str, *, content_type: str = "application/fhir+json") -> BadAnswer:
    pointer = _pointer(nhs, "Y05868")
    pointer["content"][0]["attachment"]["title"] = MARKER
    return as_json(_searchset([pointer]), content_type)


def nrl_wrong_type(request: httpx.Request) -> httpx.Response:
    patient = fixture("pds/Patient.json") | {"id": MARKER}
    return fhir(200, _searchset([patient]))


def pds_patient(nhs: str, *, content_type: str = "application/fhir+json") -> BadAnswer:
    patient = fixture("pds/Patient.json")
    patient["id"] = nhs
    patient["identifier"][0]["value"] = nhs
    patient["name"] = [{"family": MARKER, "given": [MARKER]}]
    return as_json(patient, content_type)


MALFORMED = raw(b'{"resourceType": "Bundle", "entry": [{"resource": {"title": "' + MARKER.encode())
WRONG_TYPE = as_json({"resourceType": "OperationOutcome", "issue": [], "text": MARKER})

# (partner, the person looked up, the bad answer)
CASES: dict[str, tuple[str, str, BadAnswer]] = {
    # A mental health trust's FHIR endpoint.
    "trust-malformed-json": ("trust-rqi", KNOWN_TO_NO_ONE, MALFORMED),
    "trust-wrong-resource-type": ("trust-rqi", KNOWN_TO_NO_ONE, WRONG_TYPE),
    "trust-oversized-declared": ("trust-rqi", KNOWN_TO_NO_ONE, declared_oversized),
    "trust-oversized-streamed": ("trust-rqi", KNOWN_TO_NO_ONE, streamed_oversized),
    "trust-nhs-number-failing-modulus-11": (
        "trust-rqi",
        KNOWN_TO_NO_ONE,
        trust_answer(FAILS_MODULUS_11),
    ),
    "trust-record-of-another-person": ("trust-rqi", KNOWN_TO_NO_ONE, trust_answer(ANOTHER_PERSON)),
    "trust-json-as-text-html": (
        "trust-rqi",
        KNOWN_TO_NO_ONE,
        trust_answer(KNOWN_TO_NO_ONE, content_type="text/html"),
    ),
    "trust-two-active-plans": (
        "trust-rqi",
        KNOWN_TO_NO_ONE,
        trust_answer(KNOWN_TO_NO_ONE, plans=2),
    ),
    "trust-text-over-its-bound": ("trust-rqi", KNOWN_TO_NO_ONE, trust_overlong_text),
    # The National Record Locator.
    "nrl-malformed-json": ("nrl", KNOWN_TO_NO_ONE, MALFORMED),
    "nrl-wrong-resource-type": ("nrl", KNOWN_TO_NO_ONE, WRONG_TYPE),
    "nrl-entry-of-the-wrong-type": ("nrl", KNOWN_TO_NO_ONE, nrl_wrong_type),
    "nrl-oversized-declared": ("nrl", KNOWN_TO_NO_ONE, declared_oversized),
    "nrl-oversized-streamed": ("nrl", KNOWN_TO_NO_ONE, streamed_oversized),
    "nrl-nhs-number-failing-modulus-11": ("nrl", KNOWN_TO_NO_ONE, nrl_answer(FAILS_MODULUS_11)),
    "nrl-pointer-to-another-person": ("nrl", KNOWN_TO_NO_ONE, nrl_answer(ANOTHER_PERSON)),
    "nrl-json-as-text-plain": (
        "nrl",
        KNOWN_TO_NO_ONE,
        nrl_answer(KNOWN_TO_NO_ONE, content_type="text/plain"),
    ),
    # The Personal Demographics Service.
    "pds-malformed-json": ("pds", IN_PDS, MALFORMED),
    "pds-wrong-resource-type": ("pds", IN_PDS, WRONG_TYPE),
    "pds-oversized-declared": ("pds", IN_PDS, declared_oversized),
    "pds-oversized-streamed": ("pds", IN_PDS, streamed_oversized),
    "pds-nhs-number-failing-modulus-11": ("pds", IN_PDS, pds_patient(FAILS_MODULUS_11)),
    "pds-json-as-text-html": ("pds", IN_PDS, pds_patient(IN_PDS, content_type="text/html")),
}


async def audit_text(connection: AsyncConnection, incident_id: object) -> str:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text("SELECT details::text, source_systems::text FROM audit_event WHERE incident_id = :id"),
        {"id": incident_id},
    )
    return "\n".join(" ".join(row) for row in rows)


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_partner_answer_is_an_error_for_that_source_and_discloses_nothing(
    exchanger: Exchanger,
    connection: AsyncConnection,
    partners: UntrustworthyPartners,
    case: str,
) -> None:
    partner, person, bad = CASES[case]
    partners.bad[partner] = bad
    incident_id = await scene(exchanger)
    for role, org in (("officer", "NSP"), ("mh_practitioner", "RQI")):
        response = await look_up(exchanger, incident_id, {"nhs_number": person}, role, org)
        assert response.status_code == 200, response.text
        answer = response.json()
        statuses = {source["name"]: source["status"] for source in answer["sources"]}
        assert statuses[partner] == "error", statuses
        assert [name for name, status in statuses.items() if status == "error"] == [partner]
        assert MARKER not in response.text
        assert FAILS_MODULUS_11 not in response.text
        if partner == "pds":
            assert answer["person"]["identification"] == "unverified"
            assert answer["person"]["nhs_number"] == person
        else:
            # Could not check is never "nothing known".
            assert answer["known_to_services"] == "unknown"
            assert answer["crisis_plan"] == "unknown"
            assert answer["plans"] == []
    assert any(HOSTS[request.url.host] == partner for request in partners.requests)
    assert MARKER not in await audit_text(connection, incident_id)


async def test_the_same_partner_answering_properly_is_read(
    exchanger: Exchanger, partners: UntrustworthyPartners
) -> None:
    """The control: the planted plan, about the right person and well formed, is shown, so the
    refusals above are the bad part's doing."""
    partners.bad["trust-rqi"] = trust_answer(KNOWN_TO_NO_ONE)
    incident_id = await scene(exchanger)
    response = await look_up(exchanger, incident_id, {"nhs_number": KNOWN_TO_NO_ONE})
    answer = response.json()
    statuses = {source["name"]: source["status"] for source in answer["sources"]}
    assert statuses["trust-rqi"] == "found"
    assert [plan["approach_advice"] for plan in answer["plans"]] == [MARKER]
    assert answer["known_to_services"] == "yes"
