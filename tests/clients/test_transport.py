"""Both partner transports over real sockets: the simulator in its own process with each fault, and
a server that drops the connection mid-answer. Every failure is a source status, within the
deadline, whichever transport carries the call."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from clients.errors import PartnerBadResponse, PartnerUnavailable
from clients.http import PartnerHttp
from clients.pds import PdsClient
from clients.transport import TransportKind, partner_transport
from models.partner import PdsVerification
from tests.partners import partner_http
from tests.sim import test_simulator

running_simulator = test_simulator.running_simulator

KINDS = list(TransportKind)


def deadline(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


@pytest.fixture(params=KINDS, ids=[kind.value for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> TransportKind:
    chosen: TransportKind = request.param
    return chosen


async def pds_over(
    base_url: str, kind: TransportKind
) -> tuple[httpx.AsyncClient, PartnerHttp, PdsClient]:
    client = httpx.AsyncClient(
        base_url=base_url,
        transport=partner_transport(kind, 4),
        trust_env=False,
        follow_redirects=False,
    )
    http = partner_http(client, "pds", timeout_seconds=0.5)
    return client, http, PdsClient(http)


async def test_every_simulated_fault_is_a_source_status_within_the_deadline(
    running_simulator: str, kind: TransportKind
) -> None:
    client, http, pds = await pds_over(f"{running_simulator}/pds/FHIR/R4/", kind)
    faults = f"{running_simulator}/_sim/faults/pds"
    async with client:
        assert await pds.verify("9000000009", deadline=deadline()) == PdsVerification(
            found=True, nhs_number="9000000009", restricted=False
        )
        for fault, error in (
            ({"garbage": True}, PartnerBadResponse),
            ({"oversized": True}, PartnerBadResponse),
            ({"status": 503}, PartnerUnavailable),
            # Not followed: a partner that redirects is answering wrongly.
            ({"status": 302}, PartnerBadResponse),
            ({"hang": True}, PartnerUnavailable),
            ({"drip_bytes_per_second": 50}, PartnerUnavailable),
            ({"reset": True}, PartnerUnavailable),
        ):
            assert (await client.put(faults, json=fault)).status_code == 200
            started = time.monotonic()
            with pytest.raises(error):
                await pds.verify("9000000033", deadline=deadline(1.0))
            assert time.monotonic() - started < 1.3, fault
            # Breakers would open after repeated failures; each fault is judged on its own.
            http.breaker.record_success()
        assert (await client.put(faults, json={})).status_code == 200
        assert (await pds.verify("9000000033", deadline=deadline())).found


@pytest.fixture
async def dropping_server() -> AsyncIterator[str]:
    """Answers 200 with a promised 1,000-byte body, sends 15 bytes of it, and resets."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
            b'Content-Length: 1000\r\n\r\n{"resourceType"'
        )
        await writer.drain()
        writer.transport.abort()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/FHIR/R4/"


async def test_a_connection_reset_mid_answer_is_unavailable(
    dropping_server: str, kind: TransportKind
) -> None:
    client, _, pds = await pds_over(dropping_server, kind)
    async with client:
        started = time.monotonic()
        with pytest.raises(PartnerUnavailable) as raised:
            await pds.verify("9000000009", deadline=deadline(1.0))
        assert time.monotonic() - started < 1.0
    assert raised.value.reason == "connection"
