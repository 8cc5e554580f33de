"""Faults a simulated partner can be told to show, and the ASGI middleware that shows them.

Faults are kept per partner name (`pds`, `nrl`, `trust-<ODS>`, `token`) in a `FaultBook`, set at
start from a YAML or JSON file and changed at run time through `/_sim/faults`. For one request
they apply in this order:

1. `latency_ms`: wait this long first.
2. `hang`: never answer; the request ends only when the client gives up (disconnects).
3. `error_rate`: with this probability answer 503 with an OperationOutcome.
4. `status`: answer this status with an OperationOutcome (429 also carries `Retry-After: 1`).
5. `garbage`: answer 200 with a body that is not JSON (but says it is).
6. `oversized`: answer 200 with a 2 MiB JSON body (its Content-Length says so).
7. otherwise the partner's real answer.

`reset` then cuts whichever answer is sent: the status, the headers (with the full length) and
part of the body go, and the connection is dropped.

`drip_bytes_per_second` applies to whichever answer is sent: the status and headers go at
once, the body trickles at that rate. Randomness comes from one `random.Random`, seedable, so a run
with a seed draws the same errors in the same order.
"""

import asyncio
import functools
import json
import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FHIR_JSON = "application/fhir+json"
OVERSIZED_BYTES = 2 * 1024 * 1024
# A body cut off part way, as a proxy or a crashing server might leave it.
GARBAGE_BODY = b'{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resou'
DRIP_STEPS_PER_SECOND = 10


class FaultConfigError(ValueError):
    """A fault file or fault setting that cannot be used; the message says why."""


class PartnerFaults(BaseModel):
    """What one partner does wrong. The defaults: nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, le=600_000, description="Added before answering.")
    error_rate: float = Field(
        default=0.0, ge=0, le=1, description="Probability of a 503 with an OperationOutcome."
    )
    hang: bool = Field(default=False, description="Never answer, until the client gives up.")
    drip_bytes_per_second: int | None = Field(
        default=None, ge=1, description="Send the body this slowly."
    )
    garbage: bool = Field(default=False, description="200 with a body that is not JSON.")
    oversized: bool = Field(default=False, description="200 with a 2 MiB JSON body.")
    status: int | None = Field(
        default=None, ge=200, le=599, description="Answer this status with an OperationOutcome."
    )
    reset: bool = Field(
        default=False,
        description="Start the answer, send part of its body, and drop the connection.",
    )


NO_FAULTS = PartnerFaults()


@dataclass(frozen=True)
class FaultConfig:
    """The contents of a fault file: a seed and the faults of each partner named."""

    partners: Mapping[str, PartnerFaults] = field(default_factory=dict)
    seed: int | None = None


def parse_fault_config(document: object) -> FaultConfig:
    """`{"seed": 7, "pds": {"latency_ms": 200}, "nrl": {"error_rate": 0.1}}`; seed optional."""
    if document is None:
        return FaultConfig()
    if not isinstance(document, dict):
        raise FaultConfigError("a fault file is a mapping of partner names to faults")
    entries = dict(document)
    seed = entries.pop("seed", None)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise FaultConfigError("seed must be an integer")
    partners: dict[str, PartnerFaults] = {}
    for name, faults in entries.items():
        try:
            partners[str(name)] = PartnerFaults.model_validate(faults or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'faults'}: {error['msg']}"
                for error in exc.errors()
            )
            raise FaultConfigError(f"faults of {name}: {problems}") from None
    return FaultConfig(partners=partners, seed=seed)


def load_fault_file(path: Path) -> FaultConfig:
    """A YAML or JSON fault file (JSON is YAML too)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultConfigError(f"cannot read fault file {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise FaultConfigError(f"fault file {path} is not YAML or JSON") from None
    return parse_fault_config(document)


class FaultBook:
    """The current faults of every partner, and the random source for `error_rate`."""

    def __init__(
        self,
        partners: Collection[str],
        initial: Mapping[str, PartnerFaults] | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        self.partners = tuple(partners)
        # Names match ignoring case: `trust-rqi` is `trust-RQI`, as partnership files spell it.
        self._names = {name.casefold(): name for name in self.partners}
        self._faults: dict[str, PartnerFaults] = {}
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security
        for name, faults in (initial or {}).items():
            self.set(name, faults)

    def get(self, partner: str) -> PartnerFaults:
        return self._faults.get(self._names.get(partner.casefold(), partner), NO_FAULTS)

    def set(self, partner: str, faults: PartnerFaults) -> None:
        partner = self.name(partner)
        if faults == NO_FAULTS:
            self._faults.pop(partner, None)
        else:
            self._faults[partner] = faults

    def reset(self, partner: str | None = None) -> None:
        """Clear the faults of one partner, or of all."""
        if partner is None:
            self._faults.clear()
        else:
            self._faults.pop(self.name(partner), None)

    def snapshot(self) -> dict[str, PartnerFaults]:
        return {name: self.get(name) for name in self.partners}

    def draw(self, probability: float) -> bool:
        """True with `probability` (0 never, 1 always)."""
        return probability > 0 and self._random.random() < probability

    def name(self, partner: str) -> str:
        """The partner's canonical name; FaultConfigError if there is no such partner."""
        try:
            return self._names[partner.casefold()]
        except KeyError:
            known = ", ".join(self.partners)
            raise FaultConfigError(
                f"unknown partner {partner!r}; known partners: {known}"
            ) from None


def _outcome(status: int, code: str, display: str) -> Response:
    issue_code = "transient" if status >= 500 or status == 429 else "processing"
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue_code,
                "details": {
                    "coding": [
                        {
                            "system": "https://fhir.street-triage.nhs.example/CodeSystem/simulated-fault",
                            "code": code,
                            "display": display,
                        }
                    ]
                },
            }
        ],
    }
    headers = {"Retry-After": "1"} if status == 429 else None
    if status in (204, 304):
        return Response(status_code=status, headers=headers)
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


@functools.cache
def oversized_body() -> bytes:
    """Exactly 2 MiB of valid JSON: a Bundle padded with a long string."""
    head = b'{"resourceType": "Bundle", "type": "searchset", "total": 0, "padding": "'
    tail = b'"}'
    return head + b"x" * (OVERSIZED_BYTES - len(head) - len(tail)) + tail


def canned_response(book: FaultBook, faults: PartnerFaults) -> Response | None:
    """The answer a fault puts in place of the partner's, or None to let the partner answer."""
    if book.draw(faults.error_rate):
        return _outcome(503, "SERVICE_UNAVAILABLE", "Simulated outage")
    if faults.status is not None:
        return _outcome(faults.status, "SIMULATED_STATUS", f"Simulated status {faults.status}")
    if faults.garbage:
        return Response(GARBAGE_BODY, status_code=200, media_type=FHIR_JSON)
    if faults.oversized:
        return Response(oversized_body(), status_code=200, media_type=FHIR_JSON)
    return None


async def until_disconnected(receive: Receive) -> None:
    """Wait for the client to go away, discarding any request body still unread."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class _Recorder:
    """An ASGI `send` that keeps the response instead of sending it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


async def _drip(messages: list[Message], send: Send, receive: Receive, rate: int) -> None:
    """Send a recorded response, its body `rate` bytes a second, until done or disconnected."""
    gone = asyncio.ensure_future(until_disconnected(receive))
    step = max(1, rate // DRIP_STEPS_PER_SECOND)
    try:
        for message in messages:
            if message["type"] != "http.response.body":
                await send(message)
                continue
            body: bytes = message.get("body", b"")
            for start in range(0, len(body), step):
                chunk = body[start : start + step]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                done, _ = await asyncio.wait({gone}, timeout=len(chunk) / rate)
                if done:
                    return
            await send(
                {
                    "type": "http.response.body",
                    "body": b"",
                    "more_body": message.get("more_body", False),
                }
            )
    finally:
        gone.cancel()


class ConnectionDropped(Exception):
    """Raised by the `reset` fault after part of an answer: the server drops the connection."""


async def _cut_short(messages: list[Message], send: Send) -> None:
    """Send the start and the first half of the body, then fail, so the server closes the
    connection with the body unfinished."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    for message in messages:
        if message["type"] == "http.response.start":
            await send(message)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise ConnectionDropped


class FaultMiddleware:
    """Applies the faults of the partner a request is for; other requests pass untouched."""

    def __init__(
        self, app: ASGIApp, *, book: FaultBook, partner_of: Callable[[str], str | None]
    ) -> None:
        self.app = app
        self.book = book
        self.partner_of = partner_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        partner = self.partner_of(scope["path"]) if scope["type"] == "http" else None
        faults = NO_FAULTS if partner is None else self.book.get(partner)
        if faults == NO_FAULTS:
            await self.app(scope, receive, send)
            return
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.hang:
            await until_disconnected(receive)
            return
        canned = canned_response(self.book, faults)
        answer: ASGIApp = self.app if canned is None else canned
        if faults.reset:
            recorder = _Recorder()
            await answer(scope, receive, recorder)
            await _cut_short(recorder.messages, send)
        if faults.drip_bytes_per_second is None:
            await answer(scope, receive, send)
            return
        recorder = _Recorder()
        await answer(scope, receive, recorder)
        await _drip(recorder.messages, send, receive, faults.drip_bytes_per_second)


def describe(faults: Mapping[str, PartnerFaults]) -> dict[str, Any]:
    """The faults as JSON, leaving out the defaults."""
    return {name: value.model_dump(exclude_defaults=True) for name, value in faults.items()}
