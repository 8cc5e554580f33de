"""Partner systems faked at the httpx transport, with the published NHS payloads."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.http import PartnerHttp

FIXTURES = Path(__file__).parent / "fixtures"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / relative).read_text())
    return loaded


def fhir(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/fhir+json", **headers},
    )


@dataclass
class RecordingTransport:
    """Answers with `handler` and keeps every request it was sent."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, base_url: str = "https://partner.test/FHIR/R4/") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.MockTransport(self),
            base_url=base_url,
            follow_redirects=False,
            trust_env=False,
        )


def partner_http(client: httpx.AsyncClient, name: str = "pds", **overrides: Any) -> PartnerHttp:
    options: dict[str, Any] = {
        "timeout_seconds": 1.0,
        "max_response_bytes": 1024 * 1024,
        "max_concurrency": 10,
    } | overrides
    return PartnerHttp(name=name, http=client, **options)
