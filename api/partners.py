"""Partner adapters built from the partnership file: one long-lived httpx client per partner."""

from dataclasses import dataclass, field

import httpx

from api.log import request_id_var
from api.metrics import Metrics
from clients.auth import ClientAssertionAuth
from clients.breaker import BreakerState
from clients.fhir_trust import FhirTrustClient
from clients.http import PartnerHttp
from clients.nrl import NrlClient
from clients.pds import PdsClient
from clients.rate import RateLimiter
from clients.transport import TransportKind, partner_transport
from models.partner import Partner, PartnerKind

BREAKER_GAUGE = {BreakerState.closed: 0, BreakerState.half_open: 1, BreakerState.open: 2}


@dataclass
class Partners:
    pds: PdsClient | None = None
    nrl: NrlClient | None = None
    trusts: list[FhirTrustClient] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def build_partners(
    partners: list[Partner],
    metrics: Metrics,
    transport_kind: TransportKind,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Partners:
    """No I/O here: clients connect on first use. `transport` replaces the network in tests."""
    built = Partners()

    def observe(partner: str, outcome: str, seconds: float, breaker: BreakerState) -> None:
        metrics.partner_calls.labels(partner, outcome).inc()
        metrics.partner_call_duration.labels(partner).observe(seconds)
        metrics.partner_breaker_state.labels(partner).set(BREAKER_GAUGE[breaker])

    for partner in partners:
        client = httpx.AsyncClient(
            base_url=str(partner.base_url),
            transport=transport or partner_transport(transport_kind, partner.max_concurrency),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(partner.timeout_seconds),
        )
        built.clients.append(client)
        auth = None
        if partner.auth is not None:
            auth = ClientAssertionAuth(
                partner=partner.name,
                http=client,
                token_url=str(partner.auth.token_url),
                client_id=partner.auth.client_id,
                private_key_pem=partner.auth.private_key_file.read_text(encoding="utf-8"),
                key_id=partner.auth.key_id,
            )
        http = PartnerHttp(
            name=partner.name,
            http=client,
            timeout_seconds=partner.timeout_seconds,
            max_response_bytes=partner.max_response_bytes,
            max_concurrency=partner.max_concurrency,
            auth=auth,
            observer=observe,
            correlation_id=request_id_var.get,
            rate_limiter=RateLimiter(partner.rate_limit_per_second),
        )
        if partner.kind == PartnerKind.pds:
            built.pds = PdsClient(http)
        elif partner.kind == PartnerKind.nrl:
            built.nrl = NrlClient(http)
        else:
            assert partner.organisation_code is not None
            built.trusts.append(FhirTrustClient(http, partner.organisation_code))
    return built
