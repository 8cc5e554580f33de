"""The simulated partners as one ASGI app: token endpoint, PDS, NRL, and one FHIR endpoint per trust.

| path | partner (fault name) |
|---|---|
| `POST /oauth2/token` | `token` |
| `/pds/FHIR/R4/Patient/{nhs}`, `/pds/FHIR/R4/Patient?family=&given=&birthdate=` | `pds` |
| `POST /nrl/FHIR/R4/DocumentReference/_search` | `nrl` |
| `/trust/{ods}/FHIR/R4/Patient?identifier=`, `/trust/{ods}/FHIR/R4/Flag`, `/trust/{ods}/FHIR/R4/CarePlan` | `trust-{ods}` |
| `/_sim/faults`, `/_sim/people`, `/_sim/health` | the simulator's own controls |

Answers come from `sim.people` through `sim.fhir`; faults from `sim.faults`. With
`require_token=True` every partner route wants `Authorization: Bearer <a token this simulator
issued>` and answers 401 otherwise.
"""

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from models.nhs_number import is_valid_nhs_number
from sim import fhir, people, published
from sim.faults import FaultBook, FaultConfigError, FaultMiddleware, PartnerFaults, describe
from sim.people import PdsState, Person

PDS_PREFIX = "/pds/FHIR/R4"
NRL_PREFIX = "/nrl/FHIR/R4"
TRUST_PREFIX = "/trust/{ods}/FHIR/R4"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
PARTNERS = ("token", "pds", "nrl", *(f"trust-{ods}" for ods in people.TRUSTS))

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_SECONDS = 599
CRISIS_PLAN_TOKEN = f"{fhir.SNOMED}|{fhir.CRISIS_PLAN}"
# PDS search results are built from the published search entry, with each person's number and name.
SEARCH_TEMPLATE: Mapping[str, Any] = published.PATIENT_SEARCH["entry"][0]["resource"]


class FhirResponse(JSONResponse):
    media_type = "application/fhir+json"


class FhirError(Exception):
    """Ends a request with an OperationOutcome."""

    def __init__(self, status_code: int, outcome: Mapping[str, Any]) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.outcome = outcome


def partner_of(path: str) -> str | None:
    """The partner a request path is for, by its fault name; None for the simulator's own paths."""
    parts = path.split("/")
    first = parts[1] if len(parts) > 1 else ""
    if first in ("pds", "nrl"):
        return first
    if path == TOKEN_PATH:
        return "token"
    if first == "trust" and len(parts) > 2 and parts[2] in people.TRUSTS:
        return f"trust-{parts[2]}"
    return None


class TokenStore:
    """Access tokens this simulator issued, until they expire."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        now = time.monotonic()
        self._expiry = {token: at for token, at in self._expiry.items() if at > now}
        token = secrets.token_urlsafe(32)
        self._expiry[token] = now + TOKEN_LIFETIME_SECONDS
        return token

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()


@dataclass
class SimState:
    faults: FaultBook
    require_token: bool = False
    today: Callable[[], date] = date.today
    tokens: TokenStore = field(default_factory=TokenStore)


def _state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


State = Annotated[SimState, Depends(_state)]


def _require_token(request: Request, state: State) -> None:
    if not state.require_token:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not state.tokens.valid(token.strip()):
        raise FhirError(
            401,
            fhir.operation_outcome(
                "ACCESS_DENIED", "Missing or invalid access token", issue_code="forbidden"
            ),
        )


def _bad_request(code: str, display: str) -> FhirError:
    return FhirError(400, fhir.operation_outcome(code, display, issue_code="invalid"))


def _nhs_number_token(value: str | None, parameter: str) -> str:
    """The NHS number from a FHIR token `https://fhir.nhs.uk/Id/nhs-number|<nhs>`."""
    system, separator, number = (value or "").partition("|")
    if not separator or system != fhir.NHS_NUMBER_SYSTEM:
        raise _bad_request(
            "INVALID_PARAMETER", f"{parameter} must be {fhir.NHS_NUMBER_SYSTEM}|<nhs>"
        )
    if not is_valid_nhs_number(number):
        raise _bad_request("INVALID_NHS_NUMBER", f"{parameter} is not a valid NHS number")
    return number


# Token endpoint


def _is_jwt(value: str) -> bool:
    """Three base64url segments, a JSON header naming its algorithm, a signature present.

    The signature is NOT checked: the simulator trusts every client. It stands in for the NHS
    token endpoint only so that clients exercise their assertion and token handling.
    """
    segments = value.split(".")
    if len(segments) != 3 or not all(segments):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(segments[0] + "=" * (-len(segments[0]) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def _token_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


token_router = APIRouter(tags=["token"])


@token_router.post(TOKEN_PATH)
async def issue_token(request: Request, state: State) -> JSONResponse:
    """OAuth 2.0 client credentials with a signed JWT client assertion (private_key_jwt).

    The assertion must be a three-segment JWT; its signature is not verified.
    """
    form = await request.form()
    fields = {
        name: form.get(name) for name in ("grant_type", "client_assertion_type", "client_assertion")
    }
    values = {name: value for name, value in fields.items() if isinstance(value, str) and value}
    if len(values) != len(fields):
        missing = ", ".join(sorted(set(fields) - set(values)))
        return _token_error("invalid_request", f"Missing {missing}")
    if values["grant_type"] != "client_credentials":
        return _token_error("unsupported_grant_type", "grant_type must be client_credentials")
    if values["client_assertion_type"] != ASSERTION_TYPE:
        return _token_error("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    if not _is_jwt(values["client_assertion"]):
        return _token_error("invalid_request", "Malformed JWT in client_assertion")
    return JSONResponse(
        {
            "access_token": state.tokens.issue(),
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "token_type": "Bearer",
        },
        headers={"Cache-Control": "no-store"},
    )


# PDS

pds_router = APIRouter(prefix=PDS_PREFIX, tags=["pds"], dependencies=[Depends(_require_token)])


def _patient(person: Person, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    record = person.record
    if record is None:
        raise AssertionError(f"{person.nhs_number} has no PDS record")
    return fhir.patient_like(
        template or record.template,
        person.nhs_number,
        family=record.family,
        given=record.given,
        birth_date=None if record.birth_date is None else record.birth_date.isoformat(),
    )


@pds_router.get("/Patient/{nhs_number}", response_class=FhirResponse)
async def read_patient(nhs_number: str) -> FhirResponse:
    if not is_valid_nhs_number(nhs_number):
        return FhirResponse(published.ERROR_INVALID_RESOURCE_ID, status_code=400)
    person = people.person(nhs_number)
    if person is not None and person.pds is PdsState.superseded and person.superseded_by:
        person = people.person(person.superseded_by)
    if person is None or person.pds is PdsState.not_found:
        return FhirResponse(published.ERROR_RESOURCE_NOT_FOUND, status_code=404)
    if person.pds is PdsState.invalidated:
        return FhirResponse(published.ERROR_INVALIDATED_RESOURCE, status_code=404)
    return FhirResponse(_patient(person))


@pds_router.get("/Patient", response_class=FhirResponse)
async def search_patients(
    family: str | None = None,
    given: str | None = None,
    birthdate: str | None = None,
    postcode: Annotated[str | None, Query(alias="address-postalcode")] = None,
) -> FhirResponse:
    """Demographic search. `birthdate` as `eqYYYY-MM-DD` (or `YYYY-MM-DD`)."""
    if not family or not birthdate:
        raise _bad_request("INVALID_SEARCH_DATA", "family and birthdate are required")
    try:
        birth_date = date.fromisoformat(birthdate.removeprefix("eq"))
    except ValueError:
        raise _bad_request("INVALID_SEARCH_DATA", "birthdate must be eqYYYY-MM-DD") from None
    rule = people.trace(family, given, birth_date, postcode)
    if rule is None:
        return FhirResponse(fhir.pds_search_bundle(()))
    patients = [_search_match(people.BY_NHS_NUMBER[number]) for number in rule.nhs_numbers]
    if rule.misreported_as is not None:
        patients = [fhir.patient_like(patient, rule.misreported_as) for patient in patients]
    return FhirResponse(fhir.pds_search_bundle(patients, rule.score))


def _search_match(person: Person) -> dict[str, Any]:
    # The published search entry carries an address, which a restricted record must never show.
    return _patient(person) if person.restricted else _patient(person, SEARCH_TEMPLATE)


# NRL

nrl_router = APIRouter(prefix=NRL_PREFIX, tags=["nrl"], dependencies=[Depends(_require_token)])


@nrl_router.post("/DocumentReference/_search", response_class=FhirResponse)
async def search_pointers(request: Request) -> FhirResponse:
    """Pointers for one person: `{"subject:identifier": "<system>|<nhs>", "type": "<system>|<code>"}`."""
    try:
        body = await request.json()
    except ValueError:
        raise _bad_request("BAD_REQUEST", "The body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("BAD_REQUEST", "The body must be a JSON object")
    nhs_number = _nhs_number_token(body.get("subject:identifier"), "subject:identifier")
    wanted_type = body.get("type")
    person = people.person(nhs_number)
    if person is None or person.nrl_pointers is None:
        outcome = fhir.operation_outcome(
            "NO_RECORD_FOUND",
            "No record found",
            issue_code="not-found",
            system=fhir.NRL_ERROR_SYSTEM,
        )
        return FhirResponse(outcome, status_code=404)
    custodians = person.nrl_pointers if wanted_type in (None, CRISIS_PLAN_TOKEN) else ()
    pointers = (fhir.crisis_plan_pointer(nhs_number, custodian) for custodian in custodians)
    return FhirResponse(fhir.searchset({"resource": pointer} for pointer in pointers))


# Trust FHIR endpoints

trust_router = APIRouter(
    prefix=TRUST_PREFIX, tags=["trusts"], dependencies=[Depends(_require_token)]
)

PatientIdentifier = Annotated[str | None, Query(alias="patient.identifier")]


def _trust_record(ods: str, patient_identifier: str | None) -> tuple[str, people.TrustRecord]:
    if ods not in people.TRUSTS:
        raise FhirError(
            404,
            fhir.operation_outcome("NOT_FOUND", f"No trust {ods}", issue_code="not-found"),
        )
    nhs_number = _nhs_number_token(patient_identifier, "patient.identifier")
    person = people.person(nhs_number)
    record = person.trusts.get(ods) if person is not None else None
    return nhs_number, record or people.TrustRecord()


def _matches(value: str, wanted: str | None) -> bool:
    return wanted is None or value in wanted.split(",")


def _full_url(request: Request, ods: str, resource: Mapping[str, Any]) -> str:
    return f"{request.base_url}trust/{ods}/FHIR/R4/{resource['resourceType']}/{resource['id']}"


@trust_router.get("/Patient", response_class=FhirResponse)
async def search_trust_patients(
    request: Request, ods: str, identifier: str | None = None
) -> FhirResponse:
    """The trust's patient index: `identifier=<system>|<nhs>` finds a person the trust cares for
    (a minimal record: the index says who, never where)."""
    if ods not in people.TRUSTS:
        raise FhirError(
            404,
            fhir.operation_outcome("NOT_FOUND", f"No trust {ods}", issue_code="not-found"),
        )
    nhs_number = _nhs_number_token(identifier, "identifier")
    person = people.person(nhs_number)
    patients = []
    if person is not None and person.cared_for_by(ods):
        patients.append(fhir.patient_like(published.MINIMAL_PATIENT, nhs_number))
    return FhirResponse(
        fhir.searchset(
            fhir.match(patient, _full_url(request, ods, patient)) for patient in patients
        )
    )


@trust_router.get("/Flag", response_class=FhirResponse)
async def search_flags(
    request: Request,
    ods: str,
    patient_identifier: PatientIdentifier = None,
    status: str | None = None,
) -> FhirResponse:
    """Safety alerts for one person: `patient.identifier=<system>|<nhs>&status=active`."""
    nhs_number, record = _trust_record(ods, patient_identifier)
    flags = [fhir.safety_flag(flag, nhs_number, ods) for flag in record.flags]
    return FhirResponse(
        fhir.searchset(
            fhir.match(flag, _full_url(request, ods, flag))
            for flag in flags
            if _matches(flag["status"], status)
        )
    )


@trust_router.get("/CarePlan", response_class=FhirResponse)
async def search_care_plans(
    request: Request,
    ods: str,
    state: State,
    patient_identifier: PatientIdentifier = None,
    category: str | None = None,
    status: str | None = None,
) -> FhirResponse:
    """The crisis plan: `patient.identifier=<system>|<nhs>&category=<snomed>|736253002&status=active`."""
    nhs_number, record = _trust_record(ods, patient_identifier)
    plans = []
    if record.plan is not None:
        plan = fhir.crisis_care_plan(record.plan, nhs_number, ods, state.today())
        crisis = category is None or any(
            token in (CRISIS_PLAN_TOKEN, fhir.CRISIS_PLAN) for token in category.split(",")
        )
        if crisis and _matches(plan["status"], status):
            plans.append(plan)
    return FhirResponse(
        fhir.searchset(fhir.match(plan, _full_url(request, ods, plan)) for plan in plans)
    )


# The simulator's own controls

control_router = APIRouter(prefix="/_sim", tags=["simulator"])


@control_router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@control_router.get("/people")
async def list_people() -> list[dict[str, str]]:
    """The seeded synthetic people and what each is for."""
    return [{"nhs_number": person.nhs_number, "about": person.about} for person in people.PEOPLE]


@control_router.get("/faults")
async def list_faults(state: State) -> dict[str, Any]:
    """Every partner's current faults; `{}` is a partner behaving."""
    return describe(state.faults.snapshot())


@control_router.put("/faults/{partner}")
async def set_faults(partner: str, faults: PartnerFaults, state: State) -> Response:
    """Replace a partner's faults (keys left out go back to their defaults)."""
    try:
        state.faults.set(partner, faults)
    except FaultConfigError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse(faults.model_dump(exclude_defaults=True))


@control_router.delete("/faults/{partner}", status_code=204)
async def reset_faults(partner: str, state: State) -> Response:
    try:
        state.faults.reset(partner)
    except FaultConfigError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return Response(status_code=204)


@control_router.delete("/faults", status_code=204)
async def reset_all_faults(state: State) -> Response:
    state.faults.reset()
    return Response(status_code=204)


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return FhirResponse(exc.outcome, status_code=exc.status_code)


def create_sim_app(
    faults: Mapping[str, PartnerFaults] | None = None,
    *,
    seed: int | None = None,
    require_token: bool = False,
    today: Callable[[], date] = date.today,
) -> FastAPI:
    """The simulator, with `faults` per partner name (see `PARTNERS`) to start with.

    `seed` seeds the random source of `error_rate`; `today` dates the crisis plans.
    Raises FaultConfigError for a partner name it does not know.
    """
    app = FastAPI(
        title="NHS partner simulator",
        description=__doc__,
        version="1",
    )
    app.state.sim = SimState(
        faults=FaultBook(PARTNERS, faults, seed=seed), require_token=require_token, today=today
    )
    for router in (token_router, pds_router, nrl_router, trust_router, control_router):
        app.include_router(router)
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_middleware(FaultMiddleware, book=app.state.sim.faults, partner_of=partner_of)
    return app
