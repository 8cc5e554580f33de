"""`python -m sim`: the same as `triage partner-sim`, plus `--require-token`."""

import argparse
import sys
from pathlib import Path

from sim.faults import FaultConfigError
from sim.server import DEFAULT_HOST, DEFAULT_PORT, serve


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--faults", type=Path, help="YAML or JSON file of faults per partner")
    parser.add_argument(
        "--require-token",
        action="store_true",
        help="partner routes want a bearer token from /oauth2/token",
    )
    args = parser.parse_args()
    try:
        serve(args.host, args.port, args.faults, require_token=args.require_token)
    except FaultConfigError as exc:
        sys.stderr.write(f"partner-sim: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
