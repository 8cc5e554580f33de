"""`triage`: serve the API, migrate the database, run the demo, purge past retention, print the
database URL."""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from api.log import configure_logging
from api.partnership import PartnershipConfigError, load_partnership
from api.settings import Environment, Settings, libpq_database_url
from auth.issuers import IssuerConfigError
from auth.keys import KeyFileError, load_signing_keys, new_signing_jwk, write_private_jwks
from models import Role
from models.validation import describe_validation_error

logger = logging.getLogger("api.cli")

EXIT_CONFIG = 2


class ConfigurationError(Exception):
    """A problem the operator must fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate the database, then serve the API")
    _add_server_options(serve, default_host="0.0.0.0")  # noqa: S104 - a server binds all interfaces
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate before serving")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo", help="serve with development settings and the demo partnership on localhost"
    )
    _add_server_options(demo, default_host="127.0.0.1")
    demo.set_defaults(handler=_demo, workers=1, no_migrate=False)

    migrate = commands.add_parser(
        "migrate", help="upgrade the database schema to the latest revision"
    )
    migrate.set_defaults(handler=_migrate)

    db_url = commands.add_parser("db-url", help="print the database URL in use, for psql")
    db_url.set_defaults(handler=_db_url)

    dev_token = commands.add_parser(
        "dev-token", help="print an identity token from the development identity provider"
    )
    dev_token.add_argument("--role", required=True, choices=[role.value for role in Role])
    dev_token.add_argument("--org", required=True, help="organisation code, e.g. NSP")
    dev_token.add_argument("--sub", help="subject; default derived from role and organisation")
    dev_token.add_argument("--name", help="display name")
    dev_token.set_defaults(handler=_dev_token)

    key = commands.add_parser(
        "signing-key", help="add a new EC P-256 signing key to a JWK set file (created if absent)"
    )
    key.add_argument("file", type=Path, help="the JWK set file, e.g. /etc/triage/signing-keys.json")
    key.set_defaults(handler=_add_signing_key)

    user = commands.add_parser("user", help="deactivate or reactivate a user, effective at once")
    user.add_argument("action", choices=["deactivate", "activate"])
    user.add_argument("--issuer", required=True, help="the identity provider's issuer")
    user.add_argument("--sub", required=True, help="the user's subject at that provider")
    user.set_defaults(handler=_user)

    purge = commands.add_parser(
        "purge",
        help="remove incident data past the agreement's retention, keeping de-identified statistics",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="report what would be removed; change nothing"
    )
    purge.add_argument("--json", action="store_true", help="print the counts as JSON")
    purge.set_defaults(handler=_purge)

    audit = commands.add_parser(
        "audit", help="the audit trail: verify its hash chain, purge it past retention"
    )
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify",
        help="walk the whole chain; exit 1 at the first changed, missing or re-linked event",
    )
    verify.add_argument(
        "--batch", type=int, default=1000, help="events read per query (default 1000)"
    )
    verify.set_defaults(handler=_audit_verify)
    audit_purge = audit_commands.add_parser(
        "purge",
        help="remove audit events past the agreement's audit retention, from the start of the chain",
    )
    audit_purge.add_argument(
        "--dry-run", action="store_true", help="report how many would go; change nothing"
    )
    audit_purge.set_defaults(handler=_audit_purge)

    sim = commands.add_parser(
        "partner-sim", help="serve simulated NHS partners (PDS, NRL, trusts) for demos and tests"
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8900)
    sim.add_argument("--faults", type=Path, help="YAML or JSON file of faults per partner")
    sim.set_defaults(handler=_partner_sim)
    return parser


def _add_server_options(parser: argparse.ArgumentParser, *, default_host: str) -> None:
    parser.add_argument("--host", default=default_host)
    parser.add_argument("--port", type=int, default=8000)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(describe_validation_error(exc))
        raise ConfigurationError(f"invalid settings: {problems}") from None


def _check_configuration(settings: Settings) -> None:
    """Everything the app loads at start, checked here so problems print plainly, once."""
    from api.app import key_files, load_issuers  # noqa: PLC0415

    try:
        partnership = load_partnership(settings.partnership_path)
        signing, issuers = key_files(settings, partnership)
        load_signing_keys(signing, settings.signing_key_id)
        load_issuers(settings, issuers)
    except (PartnershipConfigError, KeyFileError, IssuerConfigError) as exc:
        raise ConfigurationError(str(exc)) from None
    # Workers start in parallel: they must find the development keys made, not make them.
    os.environ["TRIAGE_SIGNING_KEYS_FILE"] = str(signing)
    os.environ["TRIAGE_TRUSTED_ISSUERS"] = str(issuers)


def _database_url(settings: Settings, *, stop_at_exit: bool = True) -> str:
    """The configured database, or the embedded one, started in the data directory if need be."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from api.embedded import start_embedded_postgres  # noqa: PLC0415 - only when it is used

    return start_embedded_postgres(settings.pgdata_dir, stop_at_exit=stop_at_exit)


def _migrate_to_head(database_url: str) -> None:
    from api import migration  # noqa: PLC0415 - keeps `triage --help` fast

    migration.upgrade(database_url)
    logger.info("database.migrated", extra={"fields": {"revision": migration.head_revision()}})


def _serve(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_level)
    _check_configuration(settings)
    database_url = _database_url(settings)
    # Workers are separate processes: they read the database URL from the environment.
    os.environ["TRIAGE_DATABASE_URL"] = database_url
    if not args.no_migrate:
        _migrate_to_head(database_url)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="triage-metrics-")

    import uvicorn  # noqa: PLC0415

    # Uvicorn re-raises the signal that stopped it; exiting through SystemExit instead lets the
    # embedded database shut down cleanly on SIGTERM as it does on Ctrl-C.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _demo(args: argparse.Namespace) -> int:
    os.environ["TRIAGE_ENVIRONMENT"] = Environment.development.value
    simulator = _start_partner_simulator()
    print(
        f"Street triage demo: http://{args.host}:{args.port}/docs "
        f"(readiness at /readyz); simulated NHS partners on {SIMULATOR_URL}. "
        "Ctrl-C stops it; data is kept.",
        file=sys.stderr,
    )
    try:
        return _serve(args)
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)


SIMULATOR_URL = "http://127.0.0.1:8900"


def _start_partner_simulator() -> subprocess.Popen[bytes] | None:
    """The demo partnership's partners live here; reuse a simulator already running."""
    import httpx  # noqa: PLC0415

    def answering() -> bool:
        try:
            return httpx.get(f"{SIMULATOR_URL}/_sim/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    if answering():
        return None
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "partner-sim", "--port", "8900"])
    deadline = time.monotonic() + 20
    while not answering():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ConfigurationError("the partner simulator did not start on 127.0.0.1:8900")
        time.sleep(0.2)
    return process


def _migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_level)
    _migrate_to_head(_database_url(settings))
    return 0


def _db_url(args: argparse.Namespace) -> int:
    settings = _settings()
    # Leave an embedded server running: the URL is for psql, after this command has exited.
    print(libpq_database_url(_database_url(settings, stop_at_exit=False)))
    return 0


def _dev_token(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.environment != Environment.development:
        raise ConfigurationError("dev-token works only with TRIAGE_ENVIRONMENT=development")
    from auth.development import mint_identity_token  # noqa: PLC0415

    print(
        mint_identity_token(
            settings.keys_dir,
            audience=settings.token_audience,
            role=args.role,
            organisation_code=args.org,
            subject=args.sub,
            name=args.name,
        )
    )
    return 0


def _add_signing_key(args: argparse.Namespace) -> int:
    """Rotation: add a key, deploy so it is published, then point TRIAGE_SIGNING_KEY_ID at it."""
    path: Path = args.file
    entries: list[dict[str, str]] = []
    if path.exists():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            entries = list(document["keys"])
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"{path} is not a JWK set") from None
    entry = new_signing_jwk()
    write_private_jwks(path, [*entries, entry])
    print(entry["kid"])
    return 0


def _user(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_level)
    database_url = _database_url(settings)

    import asyncio  # noqa: PLC0415

    from api.database import build_database  # noqa: PLC0415
    from api.token.repository import set_user_active  # noqa: PLC0415

    async def change() -> bool:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with database.sessionmaker() as session, session.begin():
                return await set_user_active(
                    session, issuer=args.issuer, subject=args.sub, active=args.action == "activate"
                )
        finally:
            await database.dispose()

    if not asyncio.run(change()):
        raise ConfigurationError("no such user has signed in")
    print(f"user {args.action}d")
    return 0


def _purge(args: argparse.Namespace) -> int:
    """Incident data, then audit events, each past its own retention, in one transaction; as the
    schema owner (the login in TRIAGE_DATABASE_URL), never the application's role."""
    settings = _settings()
    configure_logging(settings.log_level)
    try:
        partnership = load_partnership(settings.partnership_path)
    except PartnershipConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    database_url = _database_url(settings)

    import asyncio  # noqa: PLC0415

    from api.audit.service import audit_retention_cutoff, purge_audit_events  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415
    from api.retention.service import (  # noqa: PLC0415
        RetentionNotAllowed,
        purge_incident_data,
    )
    from models import utcnow  # noqa: PLC0415

    now = utcnow()
    audit_cutoff = audit_retention_cutoff(partnership, now)

    async def purge() -> dict[str, Any]:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with database.sessionmaker() as session:
                transaction = await session.begin()
                result = await purge_incident_data(
                    session, partnership.agreement.retention, now=now
                )
                audit_events = await purge_audit_events(session, audit_cutoff, args.dry_run)
                if args.dry_run:
                    await transaction.rollback()
                else:
                    await transaction.commit()
                return result.as_dict() | {
                    "audit_cutoff": audit_cutoff.isoformat(),
                    "audit_events": audit_events,
                }
        finally:
            await database.dispose()

    try:
        counts = asyncio.run(purge())
    except RetentionNotAllowed as exc:
        raise ConfigurationError(str(exc)) from None
    counts["dry_run"] = args.dry_run
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    print(_purge_summary(counts))
    return 0


def _purge_summary(counts: dict[str, Any]) -> str:
    verb = "would be deleted (dry run: nothing changed)" if counts["dry_run"] else "deleted"
    lines = [
        f"incidents called before {counts['incident_cutoff']}, "
        f"access notifications before {counts['notification_cutoff']}",
        f"held for break-glass review: {counts['incidents_held']}",
        f"outcome statistics written: {counts['statistics_written']}",
        f"repeat contacts carried to kept incidents: {counts['prior_contacts_carried']}",
        f"rows {verb}:",
        *(f"  {table:<24}{rows:>10}" for table, rows in counts["deleted"].items()),
        f"  {'audit_event':<24}{counts['audit_events']:>10}"
        f"  (occurred before {counts['audit_cutoff']})",
    ]
    return "\n".join(lines)


def _audit_verify(args: argparse.Namespace) -> int:
    """As the schema owner, in one read-only snapshot: exit 0 if the chain is whole, 1 if not."""
    settings = _settings()
    configure_logging(settings.log_level)
    database_url = _database_url(settings)

    import asyncio  # noqa: PLC0415

    from api.audit.service import ChainReport, verify_chain  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415

    async def verify() -> ChainReport:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with database.engine.connect() as connection:
                snapshot = await connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                async with snapshot.begin():
                    return await verify_chain(snapshot, batch=max(1, args.batch))
        finally:
            await database.dispose()

    report = asyncio.run(verify())
    start = f" from the purge anchor at seq {report.anchor_seq}" if report.anchor_seq else ""
    if report.problem is None:
        print(
            f"audit chain OK: {report.events} events{start}, head seq {report.head_seq},"
            f" head hash {report.head_hash}"
        )
        return 0
    print(
        f"audit chain BROKEN at seq {report.problem.seq}: {report.problem.kind.value}"
        f" ({report.problem.describe()}); {report.events} events verified before it{start}",
        file=sys.stderr,
    )
    return 1


def _audit_purge(args: argparse.Namespace) -> int:
    """As the schema owner: the trigger on audit_event lets only this transaction delete."""
    settings = _settings()
    configure_logging(settings.log_level)
    try:
        partnership = load_partnership(settings.partnership_path)
    except PartnershipConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    database_url = _database_url(settings)

    import asyncio  # noqa: PLC0415

    from api.audit.service import audit_retention_cutoff, purge_audit_events  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415

    cutoff = audit_retention_cutoff(partnership)

    async def purge() -> int:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with database.engine.begin() as connection:
                return await purge_audit_events(connection, cutoff, args.dry_run)
        finally:
            await database.dispose()

    removed = asyncio.run(purge())
    verb = "would be removed (dry run: nothing changed)" if args.dry_run else "removed"
    print(f"audit events that occurred before {cutoff.isoformat()}: {removed} {verb}")
    return 0


def _partner_sim(args: argparse.Namespace) -> int:
    # A tool, not the product: imported only here.
    from sim import FaultConfigError, serve  # noqa: PLC0415

    try:
        serve(args.host, args.port, args.faults)
    except FaultConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
