"""Joint assessment writes per second, against an unauthenticated no-op write, in one run.

Each write is a real `PUT .../assessment` with If-Match: token check, row locks, a new revision,
an audit event, one transaction. The baseline posts the same JSON body to a route that validates
it and writes nothing. Both run with 1 and with 8 concurrent writers, each on an incident of its
own (writes to one incident queue on its row lock, by design).

    python bench/assessment_write.py [--writes 800]
    TRIAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/triage_bench python bench/assessment_write.py
"""

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Bench, running, summary, timed_concurrently
from models import AssessmentWrite
from tests.factories import assessment_content, incident_payload

router = APIRouter(prefix="/bench")


@router.post("/noop")
async def accept_and_discard(payload: AssessmentWrite) -> dict[str, bool]:
    """Validate the same body, write nothing: the floor for a write."""
    return {"ok": bool(payload.content)}


async def writer(bench: Bench, opener: str, index: int) -> Callable[[], Awaitable[None]]:
    """A worker with an incident and assessment of its own, writing revision after revision."""
    incident = await bench.client.post(
        "/v1/incidents", json=incident_payload(), headers={"authorization": f"Bearer {opener}"}
    )
    incident.raise_for_status()
    incident_id = incident.json()["id"]
    token = await bench.token("officer", "NSP", "street-triage", incident_id=incident_id)
    headers = {"authorization": f"Bearer {token}"}
    subject = await bench.client.post(
        f"/v1/incidents/{incident_id}/subjects",
        json={"description": f"Person {index}"},
        headers=headers,
    )
    subject.raise_for_status()
    url = f"/v1/incidents/{incident_id}/subjects/{subject.json()['id']}/assessment"
    body: dict[str, Any] = {"content": assessment_content()}
    created = await bench.client.post(url, json=body, headers=headers)
    created.raise_for_status()
    state = {"etag": created.headers["etag"]}

    async def write() -> None:
        response = await bench.client.put(
            url, json=body, headers=headers | {"if-match": state["etag"]}
        )
        assert response.status_code == 200, response.text
        state["etag"] = response.headers["etag"]

    return write


async def run(writes: int) -> None:
    async with running(router, pool_size=12) as bench:
        body = {"content": assessment_content()}

        async def noop() -> None:
            assert (await bench.client.post("/bench/noop", json=body)).status_code == 200

        print(f"assessment write benchmark: {writes} writes per row, in-process, real PostgreSQL")
        for concurrency in (1, 8):
            # Tokens live five minutes: fresh ones per concurrency level keep each run inside that.
            # An opener of its own per run: the hourly opening quota counts per user, and runs
            # against one database would otherwise share it.
            opener = await bench.token(
                "officer", "NSP", "street-triage", subject=f"bench-opener-{uuid.uuid4()}"
            )
            writers = [await writer(bench, opener, i) for i in range(concurrency)]
            per_worker = max(1, writes // concurrency)
            await timed_concurrently(writers, 20)  # warm up
            await timed_concurrently([noop] * concurrency, 20)
            # Process time covers the client too, so the no-op's share is taken off the write's.
            cpu = time.process_time()
            baseline, baseline_wall = await timed_concurrently([noop] * concurrency, per_worker)
            baseline_cpu = (time.process_time() - cpu) / len(baseline)
            cpu = time.process_time()
            real, real_wall = await timed_concurrently(writers, per_worker)
            real_cpu = (time.process_time() - cpu) / len(real)
            print(f"  {concurrency} writer(s)")
            print(
                f"    no-op write (baseline)   {len(baseline) / baseline_wall:7.0f}/s  {summary(baseline)}"
            )
            print(f"    assessment write         {len(real) / real_wall:7.0f}/s  {summary(real)}")
            print(
                f"    CPU per request: no-op {baseline_cpu * 1e3:.2f} ms, write {real_cpu * 1e3:.2f} ms;"
                f" Python time per write, less the no-op request's: "
                f"{(real_cpu - baseline_cpu) * 1e3:.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=800)
    asyncio.run(run(parser.parse_args().writes))


if __name__ == "__main__":
    main()
