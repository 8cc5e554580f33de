"""Partner HTTP under failure: deadlines hold, one retry at most, the breaker opens, caps apply."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from clients.breaker import BreakerState, CircuitBreaker
from clients.errors import PartnerBadResponse, PartnerUnavailable
from clients.http import PartnerHttp
from clients.rate import RateLimiter
from tests.partners import fhir, partner_http

OK_BODY = {"resourceType": "Bundle", "type": "searchset", "total": 0}


class Script:
    """Answers requests in turn from a list of responses (or async callables making one)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            result: httpx.Response = await answer(request)
            return result
        assert isinstance(answer, httpx.Response)
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.MockTransport(self), base_url="https://partner.test/FHIR/R4/"
        )


def state_of(breaker: CircuitBreaker) -> BreakerState:
    # A call, so the type checker does not narrow the property between assertions.
    return breaker.state


def soon(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


async def call(
    script: Script, *, deadline: float | None = None, **options: Any
) -> tuple[Any, PartnerHttp]:
    async with script.client() as client:
        http = partner_http(client, **options)
        response = await http.get("Patient", deadline=deadline or soon())
        return response, http


async def test_one_retry_on_a_gateway_error() -> None:
    script = Script(fhir(503, {}), fhir(200, OK_BODY))
    response, _ = await call(script)
    assert response.body == OK_BODY
    assert len(script.requests) == 2
    assert script.requests[0].headers["x-request-id"] != script.requests[1].headers["x-request-id"]


async def test_never_more_than_one_retry() -> None:
    script = Script(fhir(503, {}))
    with pytest.raises(PartnerUnavailable, match="status_503"):
        await call(script)
    assert len(script.requests) == 2


async def test_non_idempotent_post_is_not_retried() -> None:
    script = Script(fhir(503, {}), fhir(200, OK_BODY))
    async with script.client() as client:
        with pytest.raises(PartnerUnavailable):
            await partner_http(client).post("DocumentReference", body={}, deadline=soon())
    assert len(script.requests) == 1


async def test_rate_limit_waits_for_retry_after_inside_the_deadline() -> None:
    script = Script(fhir(429, {}, **{"retry-after": "0.2"}), fhir(200, OK_BODY))
    started = time.monotonic()
    response, _ = await call(script)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_rate_limit_beyond_the_deadline_gives_up_at_once() -> None:
    script = Script(fhir(429, {}, **{"retry-after": "5"}), fhir(200, OK_BODY))
    started = time.monotonic()
    with pytest.raises(PartnerUnavailable, match="rate_limited"):
        await call(script, deadline=soon(1.0))
    assert time.monotonic() - started < 0.5
    assert len(script.requests) == 1


async def test_a_hanging_partner_cannot_outlast_the_deadline() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    started = time.monotonic()
    with pytest.raises(PartnerUnavailable, match=r"timeout|deadline"):
        await call(Script(hang), deadline=soon(0.5), timeout_seconds=5.0)
    assert time.monotonic() - started < 0.8


async def test_a_slowly_dripping_partner_cannot_outlast_the_deadline() -> None:
    async def drip(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for byte in b'{"resourceType": "Bundle"}':
                await asyncio.sleep(0.1)
                yield bytes([byte])

        return httpx.Response(
            200, headers={"content-type": "application/fhir+json"}, content=body()
        )

    started = time.monotonic()
    with pytest.raises(PartnerUnavailable):
        await call(Script(drip), deadline=soon(0.6), timeout_seconds=5.0)
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            httpx.Response(
                200, content=b"x" * 5000, headers={"content-type": "application/fhir+json"}
            ),
            "oversized",
        ),
        (
            httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}),
            "content_type",
        ),
        (
            httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"}),
            "malformed",
        ),
        (httpx.Response(302, headers={"location": "http://169.254.169.254/"}), "redirect"),
    ],
)
async def test_untrustworthy_answers_are_bad_responses(
    response: httpx.Response, reason: str
) -> None:
    script = Script(response)
    with pytest.raises(PartnerBadResponse) as caught:
        await call(script, max_response_bytes=4096)
    assert caught.value.reason == reason
    assert len(script.requests) == 1  # never followed, never retried


async def test_streamed_body_over_the_cap_is_cut_off() -> None:
    async def endless(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            while True:
                yield b" " * 1024

        return httpx.Response(
            200, headers={"content-type": "application/fhir+json"}, content=body()
        )

    with pytest.raises(PartnerBadResponse, match="oversized"):
        await call(Script(endless), max_response_bytes=8192)


async def test_breaker_opens_after_repeated_failures_and_stops_calls() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(threshold=3, reset_seconds=30, clock=lambda: clock[0])
    script = Script(fhir(500, {}))
    observed: list[tuple[str, str, BreakerState]] = []
    async with script.client() as client:
        http = partner_http(
            client,
            breaker=breaker,
            observer=lambda partner, outcome, seconds, state: observed.append(
                (partner, outcome, state)
            ),
        )
        for _ in range(3):
            with pytest.raises(PartnerUnavailable, match="status_500"):
                await http.get("Patient", deadline=soon())
        assert state_of(breaker) == BreakerState.open
        with pytest.raises(PartnerUnavailable, match="breaker_open"):
            await http.get("Patient", deadline=soon())
        assert len(script.requests) == 3  # the open breaker sent nothing

        clock[0] += 31
        script.answers = [fhir(200, OK_BODY)]
        assert (await http.get("Patient", deadline=soon())).status_code == 200
        assert state_of(breaker) == BreakerState.closed
    assert observed[2] == ("pds", "status_500", BreakerState.open)
    assert observed[3] == ("pds", "breaker_open", BreakerState.open)
    assert observed[-1] == ("pds", "ok", BreakerState.closed)


async def test_half_open_breaker_lets_one_trial_through() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(threshold=1, reset_seconds=10, clock=lambda: clock[0])
    breaker.record_failure()
    clock[0] = 11
    assert state_of(breaker) == BreakerState.half_open
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    breaker.record_failure()
    assert state_of(breaker) == BreakerState.open


async def test_a_cancelled_trial_call_lets_the_next_one_try() -> None:
    """A half-open breaker's one trial, cancelled with the lookup that made it, must not leave
    the partner refused until a restart."""
    clock = [0.0]
    breaker = CircuitBreaker(threshold=1, reset_seconds=10, clock=lambda: clock[0])
    breaker.record_failure()
    clock[0] += 11

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    sent = asyncio.Event()

    async def hang_once_sent(request: httpx.Request) -> httpx.Response:
        sent.set()
        return await hang(request)

    script = Script(hang_once_sent)
    async with script.client() as client:
        http = partner_http(client, breaker=breaker)
        trial = asyncio.create_task(http.get("Patient", deadline=soon(20)))
        await asyncio.wait_for(sent.wait(), 5)
        assert not breaker.allow()  # the trial is out: no second call meanwhile
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        assert state_of(breaker) == BreakerState.half_open
        script.answers = [fhir(200, OK_BODY)]
        assert (await http.get("Patient", deadline=soon())).status_code == 200
        assert state_of(breaker) == BreakerState.closed


async def test_concurrency_cap_queues_and_the_queue_counts_against_the_deadline() -> None:
    running = 0
    most = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1
        return fhir(200, OK_BODY)

    script = Script(slow)
    async with script.client() as client:
        http = partner_http(client, max_concurrency=2)
        results = await asyncio.gather(
            *(http.get("Patient", deadline=soon(0.5)) for _ in range(6)), return_exceptions=True
        )
    assert most == 2
    assert sum(not isinstance(result, BaseException) for result in results) >= 2
    assert all(
        isinstance(result, PartnerUnavailable)
        for result in results
        if isinstance(result, BaseException)
    )


async def test_correlation_id_is_sent() -> None:
    script = Script(fhir(200, OK_BODY))
    async with script.client() as client:
        http = PartnerHttp(
            name="pds",
            http=client,
            timeout_seconds=1,
            max_response_bytes=4096,
            max_concurrency=1,
            correlation_id=lambda: "req-42",
        )
        await http.get("Patient", deadline=soon())
    assert script.requests[0].headers["x-correlation-id"] == "req-42"


async def test_partner_rate_is_respected_and_never_waits_past_the_deadline() -> None:
    script = Script(fhir(200, OK_BODY))
    async with script.client() as client:
        http = partner_http(client, rate_limiter=RateLimiter(5.0))
        started = time.monotonic()
        for _ in range(7):  # a burst of 5, then one every 200 ms
            await http.get("Patient", deadline=soon())
        assert time.monotonic() - started >= 0.35
        with pytest.raises(PartnerUnavailable, match="rate_limited_locally"):
            await http.get("Patient", deadline=soon(0.05))
    assert len(script.requests) == 7
