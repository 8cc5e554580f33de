"""Partner adapters built from the partnership file: one long-lived httpx client per partner."""

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.log import correlation_id_var
from api.metrics import Metrics
from api.partner_rate import shared_limiter
from api.telemetry import NO_TELEMETRY, Telemetry
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
    calls: list[PartnerHttp] = field(default_factory=list)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {call.name: call.breaker.state for call in self.calls}

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def build_partners(
    partners: list[Partner],
    metrics: Metrics,
    transport_kind: TransportKind,
    transport: httpx.AsyncBaseTransport | None = None,
    rates: AsyncEngine | None = None,
    telemetry: Telemetry = NO_TELEMETRY,
) -> Partners:
    """No I/O here: clients connect on first use. `transport` replaces the network in tests.
    `rates`: where partners' rates are shared by every worker and replica (this process's own
    buckets when None). Traced, each partner request is a span and carries `traceparent`."""
    built = Partners()

    def observe(partner: str, outcome: str, seconds: float, breaker: BreakerState) -> None:
        metrics.partner_calls.labels(partner, outcome).inc()
        metrics.partner_call_duration.labels(partner).observe(seconds)
        metrics.partner_breaker_state.labels(partner).set(BREAKER_GAUGE[breaker])

    for partner in partners:
        client = httpx.AsyncClient(
            base_url=str(partner.base_url),
            transport=telemetry.partner_transport(
                partner.name,
                transport or partner_transport(transport_kind, partner.max_concurrency),
            ),
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
            correlation_id=correlation_id_var.get,
            rate_limiter=(
                shared_limiter(rates, partner.name, partner.rate_limit_per_second)
                if rates is not None
                else RateLimiter(partner.rate_limit_per_second)
            ),
        )
        built.calls.append(http)
        if partner.kind == PartnerKind.pds:
            built.pds = PdsClient(http)
        elif partner.kind == PartnerKind.nrl:
            built.nrl = NrlClient(http)
        else:
            assert partner.organisation_code is not None
            built.trusts.append(FhirTrustClient(http, partner.organisation_code))
    return built
