"""Serve the simulator over real HTTP with uvicorn."""

import sys
from pathlib import Path

from sim.app import create_sim_app
from sim.faults import load_fault_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    faults: Path | None = None,
    *,
    require_token: bool = False,
) -> None:
    """Serve until interrupted. `faults` is a YAML or JSON fault file (see `sim.faults`).

    Raises FaultConfigError, before listening, if the fault file cannot be used.
    """
    import uvicorn  # noqa: PLC0415 - only when serving

    config = load_fault_file(faults) if faults is not None else None
    app = create_sim_app(
        config.partners if config else None,
        seed=config.seed if config else None,
        require_token=require_token,
    )
    base = f"http://{host}:{port}"
    sys.stderr.write(
        f"NHS partner simulator on {base}: token {base}/oauth2/token, PDS {base}/pds/FHIR/R4, "
        f"NRL {base}/nrl/FHIR/R4, trusts {base}/trust/{{ods}}/FHIR/R4, "
        f"faults {base}/_sim/faults, people {base}/_sim/people\n"
    )
    # No access log: request paths carry (synthetic) NHS numbers.
    # A hanging fault holds its request open: bound the wait for it at shutdown.
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
