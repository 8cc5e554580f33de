"""The API as it is deployed, for tests and benchmarks that need real processes: `triage serve` in a
process of its own, the demo partnership pointed at a running partner simulator, and tokens
exchanged over HTTP with the development identity provider."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from api.settings import DEMO_PARTNERSHIP_FILE
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from auth.development import mint_identity_token

REPO = Path(__file__).resolve().parents[1]
AUDIENCE = "urn:street-triage:api"
DEMO_SIMULATOR = "http://127.0.0.1:8900"
GENEROUS_QUOTAS = {
    "per_user_per_hour": 100_000,
    "per_organisation_per_day": 1_000_000,
    "people_per_incident": 10,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def simulated_partnership(
    directory: Path,
    simulator: str,
    *,
    quotas: dict[str, int] | None = None,
    **partner_settings: Any,
) -> Path:
    """The demo partnership with its partners at `simulator`, without the local rate limit that
    protects real partners, and `partner_settings` (e.g. `timeout_seconds`) on every partner."""
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    for partner in document["partners"]:
        partner["base_url"] = partner["base_url"].replace(DEMO_SIMULATOR, simulator)
        partner["rate_limit_per_second"] = 1000
        partner.update(partner_settings)
    if quotas is not None:
        document["agreement"]["lookup_quotas"] = quotas
        # The same generosity for opening incidents: many simulated cars share one identity.
        document["agreement"]["incident_quotas"] = {"per_user_per_hour": 100_000}
    path = directory / "partnership.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def exchange_form(keys_dir: Path, role: str, org: str, purpose: str, **form: str) -> dict[str, str]:
    """The token-exchange form for an identity token the development provider issues now."""
    identity = mint_identity_token(keys_dir, audience=AUDIENCE, role=role, organisation_code=org)
    return {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": identity,
        "subject_token_type": JWT_TOKEN_TYPE,
        "purpose": purpose,
        **form,
    }


@dataclass
class ApiProcess:
    base_url: str
    keys_dir: Path
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def api_process(
    directory: Path, environment: dict[str, str], workers: int = 1
) -> Iterator[ApiProcess]:
    """`triage serve` in development mode with its keys in `directory`, and `environment` on top;
    yielded once `/readyz` answers 200, stopped on exit."""
    port = free_port()
    log = directory / "api.log"
    keys_dir = directory / "keys"
    env = os.environ | {
        "TRIAGE_ENVIRONMENT": "development",
        "TRIAGE_KEYS_DIR": str(keys_dir),
        "TRIAGE_LOG_LEVEL": "WARNING",
        **environment,
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/readyz", process, log, "the API", seconds=90)
        yield ApiProcess(base_url, keys_dir, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def simulator_process(directory: Path, faults: Path | None = None) -> Iterator[str]:
    """`triage partner-sim` in its own process, with `faults` if given; its base URL once it
    answers."""
    port = free_port()
    log = directory / "partner-sim.log"
    command = [sys.executable, "-m", "api.cli", "partner-sim", "--port", str(port)]
    if faults is not None:
        command += ["--faults", str(faults)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/_sim/health", process, log, "partner-sim", seconds=20)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, what: str, *, seconds: float
) -> None:
    """Until `url` answers 200; RuntimeError with the process's log if it exits or takes too long."""
    give_up = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > give_up:
            raise RuntimeError(f"{what} did not become ready:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
