"""`python -m devidp --host H --port P --clients FILE`: serve the development OpenID provider."""

import argparse
import sys
from pathlib import Path

from devidp.config import ClientFileError, ProviderConfig, load_clients_file
from devidp.people import IssuerKind
from devidp.shapes import issuer_urls

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8901


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devidp", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--clients", type=Path, required=True, help="YAML file of registered clients"
    )
    parser.add_argument(
        "--base-url", help="the URL clients reach the provider at; default http://HOST:PORT"
    )
    args = parser.parse_args(argv)
    try:
        clients = load_clients_file(args.clients)
    except ClientFileError as exc:
        sys.stderr.write(f"devidp: {exc}\n")
        return 2
    config = ProviderConfig(
        base_url=args.base_url or f"http://{args.host}:{args.port}", clients=clients
    )

    import uvicorn  # noqa: PLC0415 - only when serving

    from devidp.app import create_app  # noqa: PLC0415

    app = create_app(config)
    entra = issuer_urls(IssuerKind.entra, config.base_url).issuer
    cis2 = issuer_urls(IssuerKind.cis2, config.base_url).issuer
    sys.stderr.write(
        f"Development OpenID provider on {config.base_url}: Entra-shaped issuer {entra}, "
        f"CIS2-shaped issuer {cis2}, {len(clients)} client(s)\n"
    )
    # No access log: authorization responses carry codes in their URLs.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
