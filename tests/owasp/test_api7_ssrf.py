"""API7:2023 Server Side Request Forgery.

The service makes outbound requests only to the partner systems named in the partnership file, and
nothing a caller sends can change where they go. No request body of any route (read from the app)
has a field that could carry a URL; a lookup body with one is 422 and no partner is asked; text a
caller does send (demographics) travels as query parameters to the configured base URLs only, and
a pointer URL in a partner's answer is shown to practitioners, never fetched. A partner answering
with a redirect to another host is not followed: no request reaches that host and the source is
`error`. Partner clients ignore proxy settings from the environment: with `HTTP(S)_PROXY` set to a
dead proxy, the product's clients (both transports) still reach a real local partner directly,
where a client trusting the environment fails. (Identity providers' `jku`/`x5u` headers, another
SSRF vector, are refused without a request in `tests/api/test_token_attacks.py`.)
"""

import re
import time
import types
import typing
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport
from pydantic import AnyUrl, BaseModel

from api.metrics import build_metrics
from api.partners import build_partners
from api.resources import Resources
from api.settings import Settings
from clients.transport import TransportKind
from models.partner import Partner
from tests import lookups
from tests.conftest import Exchanger
from tests.lookups import look_up, scene, with_faked_partners
from tests.owasp.routes import app_routes
from tests.partners import HOSTS, PARTNER_CONFIG, FakePartners, fhir, fixture

EVIL_HOST = "evil.test"
URLISH_NAME = re.compile(r"url|uri|href|link|callback|webhook|endpoint|host|redirect|jwks|jku|x5u")
BASE_URLS = [partner["base_url"] for partner in PARTNER_CONFIG]
PERSON = "9000000009"


@dataclass
class RedirectingPartners(FakePartners):
    """The faked partners, where some answer with a redirect to another host; a request to any
    host the partnership does not name is recorded and answered as if it were a partner."""

    redirecting: dict[str, int] = field(default_factory=dict)
    strays: list[httpx.Request] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in HOSTS:
            self.strays.append(request)
            return fhir(200, fixture("pds/Patient.json"))
        partner = HOSTS[request.url.host]
        if partner in self.redirecting:
            self.requests.append(request)
            location = f"https://{EVIL_HOST}/steal{request.url.raw_path.decode()}"
            return httpx.Response(self.redirecting[partner], headers={"location": location})
        return await super().handle(request)


@pytest.fixture
def partners() -> RedirectingPartners:
    return RedirectingPartners()


partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


def statuses(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {source["name"]: source["status"] for source in response.json()["sources"]}


# --- no URL comes from a caller ------------------------------------------------------------------


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every pydantic model inside an annotation (unions, lists, Annotated...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models(argument)


def _is_url_type(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, AnyUrl):
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return any(_is_url_type(argument) for argument in typing.get_args(annotation))
    return False


def _fields(
    model: type[BaseModel], prefix: str, seen: set[type[BaseModel]]
) -> Iterator[tuple[str, Any]]:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        yield f"{prefix}{name}", info.annotation
        for inner in _models(info.annotation):
            yield from _fields(inner, f"{prefix}{name}.", seen)


def test_no_request_body_of_any_route_has_a_field_for_a_url(app: FastAPI) -> None:
    found: list[str] = []
    bodies = 0
    for route in app_routes(app):
        if route.dependant is None:
            continue
        for param in route.dependant.body_params:
            for model in _models(param.field_info.annotation):
                bodies += 1
                for name, annotation in _fields(model, "", set()):
                    if URLISH_NAME.search(name.rsplit(".", 1)[-1]) or _is_url_type(annotation):
                        found.append(f"{route}: {name}")
    assert bodies >= 10, "the sweep found too few request bodies to mean anything"
    assert found == []


@pytest.mark.parametrize(
    "name", ["url", "base_url", "callback_url", "fhir_server", "partner", "endpoint"]
)
async def test_a_lookup_body_naming_a_server_is_422_and_asks_no_one(
    exchanger: Exchanger, partners: RedirectingPartners, name: str
) -> None:
    incident_id = await scene(exchanger)
    response = await look_up(
        exchanger, incident_id, {"nhs_number": PERSON, name: f"https://{EVIL_HOST}/fhir"}
    )
    assert response.status_code == 422
    assert EVIL_HOST not in response.text
    assert partners.requests == []
    assert partners.strays == []


async def test_text_a_caller_sends_never_chooses_the_host_or_the_path(
    exchanger: Exchanger, partners: RedirectingPartners
) -> None:
    incident_id = await scene(exchanger)
    for family in (f"https://{EVIL_HOST}/x", f"x@{EVIL_HOST}", "../../../admin", "a/b?c=d#e"):
        response = await look_up(
            exchanger,
            incident_id,
            {"demographics": {"family": family, "given": "Ann", "birth_date": "1980-01-01"}},
        )
        assert response.status_code == 200, response.text
    assert partners.requests
    assert partners.strays == []
    for request in partners.requests:
        assert any(str(request.url).startswith(base) for base in BASE_URLS), request.url
        assert request.url.path == "/FHIR/R4/Patient"


async def test_a_pointer_url_in_a_partners_answer_is_never_fetched(
    exchanger: Exchanger, partners: RedirectingPartners
) -> None:
    incident_id = await scene(exchanger)
    answer = await look_up(exchanger, incident_id, {"nhs_number": PERSON}, "mh_practitioner", "RQI")
    documents = answer.json()["documents"]
    assert documents, "the NRL pointer should be shown to the practitioner"
    assert documents[0]["url"], "the NRL pointer should carry a URL"
    assert {request.url.host for request in partners.requests} <= set(HOSTS)
    assert partners.strays == []


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partner", "status"),
    [
        ("pds", 302),
        ("pds", 301),
        ("nrl", 307),
        ("nrl", 308),
        ("trust-rqi", 302),
        ("trust-rqi", 303),
    ],
)
async def test_a_redirect_from_a_partner_is_never_followed(
    exchanger: Exchanger, partners: RedirectingPartners, partner: str, status: int
) -> None:
    incident_id = await scene(exchanger)
    partners.redirecting[partner] = status
    response = await look_up(exchanger, incident_id, {"nhs_number": PERSON})
    assert statuses(response)[partner] == "error"
    assert partners.strays == [], "a redirect was followed"
    assert EVIL_HOST not in response.text
    assert any(HOSTS[request.url.host] == partner for request in partners.requests)


# --- proxies from the environment ----------------------------------------------------------------


def test_every_outbound_client_ignores_the_environment_and_redirects(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    resources: Resources = app.state.resources
    clients = [*resources.partners.clients, resources.http]
    assert len(resources.partners.clients) == len(PARTNER_CONFIG)
    for outbound in clients:
        assert outbound.trust_env is False
        assert outbound.follow_redirects is False
    assert {str(outbound.base_url) for outbound in resources.partners.clients} == set(BASE_URLS)


@pytest.fixture
async def local_partner() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 answering as PDS: the partner, reached over the network."""

    async def patient(request: web.Request) -> web.Response:
        return web.json_response(fixture("pds/Patient.json"), content_type="application/fhir+json")

    application = web.Application()
    application.router.add_get("/FHIR/R4/Patient/{number}", patient)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}/FHIR/R4/"
    finally:
        await runner.cleanup()


@pytest.fixture
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every proxy variable names a port nothing listens on; nothing is exempt."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _trusting_control(kind: TransportKind, base_url: str) -> httpx.AsyncClient:
    """A client on the same connection layer that does take proxies from the environment."""
    if kind == TransportKind.httpx:
        return httpx.AsyncClient(base_url=base_url, trust_env=True)
    # httpx-aiohttp never hands the environment's proxies to aiohttp itself; a session that
    # trusts the environment does take them.
    transport = AiohttpTransport(client=lambda: aiohttp.ClientSession(trust_env=True))
    return httpx.AsyncClient(base_url=base_url, transport=transport)


@pytest.mark.parametrize("kind", list(TransportKind))
async def test_partner_calls_go_direct_whatever_proxy_the_environment_names(
    local_partner: str, dead_proxy: None, kind: TransportKind
) -> None:
    partner = Partner.model_validate({"name": "pds", "kind": "pds", "base_url": local_partner})
    built = build_partners([partner], build_metrics(), kind)
    try:
        assert built.pds is not None
        verified = await built.pds.verify(PERSON, deadline=time.monotonic() + 5.0)
        assert verified.found
        assert verified.nhs_number == PERSON
    finally:
        await built.close()

    # The control: the dead proxy is in force for a client that trusts the environment.
    async with _trusting_control(kind, local_partner) as control:
        with pytest.raises((httpx.TransportError, aiohttp.ClientError)):
            await control.get(f"Patient/{PERSON}", timeout=5.0)
