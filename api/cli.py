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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import SecretStr, ValidationError

from api.log import configure_logging
from api.partnership import PartnershipConfigError, load_partnership
from api.settings import Environment, Settings, libpq_database_url
from auth.issuers import IssuerConfigError
from auth.keys import (
    KeyFileError,
    add_missing_log_keys,
    load_signing_keys,
    new_signing_jwk,
    write_private_jwks,
)
from auth.oidc import ClientConfigError, sign_in_clients
from models import Role
from models.validation import describe_validation_error

if TYPE_CHECKING:
    from api.audit.sealer import LogKeys

logger = logging.getLogger("api.cli")

EXIT_CONFIG = 2


class ConfigurationError(Exception):
    """A problem the operator must fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.handler not in (_serve, _demo):
        _read_demo_environment()
    try:
        result: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return result


def _add_audit_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    audit = commands.add_parser(
        "audit",
        help="the audit log: verify it, seal it, witness partners' logs, purge it past retention",
    )
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify",
        help="recompute the log's tree and check every checkpoint; exit 1 at the first changed, "
        "missing, inserted or reordered event",
    )
    verify.add_argument(
        "--batch", type=int, default=1000, help="events read per query (default 1000)"
    )
    verify.add_argument(
        "--json", action="store_true", help="print the report as JSON (progress stays on stderr)"
    )
    verify.set_defaults(handler=_audit_verify)
    seal = audit_commands.add_parser(
        "seal",
        help="seal committed events into the log and sign a checkpoint, once (as the API does)",
    )
    seal.set_defaults(handler=_audit_seal)
    witness = audit_commands.add_parser(
        "witness",
        help="verify a partner's checkpoint, prove it extends the last one seen, keep and cosign it; "
        "exit 1 if their log forked or shrank",
    )
    witness.add_argument("url", help="the partner API's base URL, e.g. https://triage.rqi.example")
    witness.add_argument(
        "--vkey", required=True, help="the partner log's verifier key, as agreed in the partnership"
    )
    witness.set_defaults(handler=_audit_witness)
    audit_purge = audit_commands.add_parser(
        "purge",
        help="remove audit events past the agreement's audit retention, from the start of the log "
        "(their leaf hashes stay)",
    )
    audit_purge.add_argument(
        "--dry-run", action="store_true", help="report how many would go; change nothing"
    )
    audit_purge.set_defaults(handler=_audit_purge)


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
    demo.add_argument(
        "--idp-port", type=int, default=8901, help="port of the development OpenID provider"
    )
    demo.add_argument(
        "--sim-port", type=int, default=8900, help="port of the simulated NHS partners"
    )
    demo.add_argument(
        "--no-seed",
        action="store_true",
        help="do not seed an empty database with a few months of synthetic incidents",
    )
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
    key.add_argument(
        "--log-keys",
        action="store_true",
        help="instead, add the audit log's Ed25519 checkpoint and cosigning keys the file lacks",
    )
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

    _add_audit_commands(commands)

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
        partnership = load_partnership(
            settings.partnership_path,
            require_https=settings.environment != Environment.development,
        )
        signing, issuers = key_files(settings, partnership)
        load_signing_keys(signing, settings.signing_key_id)
        sign_in_clients(load_issuers(settings, issuers))
    except (PartnershipConfigError, KeyFileError, IssuerConfigError, ClientConfigError) as exc:
        raise ConfigurationError(str(exc)) from None
    # Workers start in parallel: they must find the development keys made, not make them.
    os.environ["TRIAGE_SIGNING_KEYS_FILE"] = str(signing)
    os.environ["TRIAGE_TRUSTED_ISSUERS"] = str(issuers)


def _database_url(settings: Settings, *, stop_at_exit: bool = True) -> str:
    """The configured database, or (development only) the embedded one, started in the data
    directory if need be."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if settings.environment != Environment.development:
        # In a container the embedded server's data would die with it, while reporting ready.
        raise ConfigurationError(
            "TRIAGE_DATABASE_URL is required outside development: the embedded PostgreSQL is"
            " for the demo, development and tests (TRIAGE_ENVIRONMENT=development)"
        )
    from api.embedded import start_embedded_postgres  # noqa: PLC0415 - only when it is used

    return start_embedded_postgres(settings.pgdata_dir, stop_at_exit=stop_at_exit)


def _migrate_to_head(database_url: str) -> None:
    from api import migration  # noqa: PLC0415 - keeps `triage --help` fast

    migration.upgrade(database_url)
    logger.info("database.migrated", extra={"fields": {"revision": migration.head_revision()}})


def _serve(args: argparse.Namespace, prepare: Callable[[str], None] | None = None) -> int:
    """Migrate, run `prepare` on the migrated database if given, then serve."""
    settings = _settings()
    configure_logging(settings.log_level)
    _check_configuration(settings)
    database_url = _database_url(settings)
    # Workers are separate processes: they read the database URL from the environment.
    os.environ["TRIAGE_DATABASE_URL"] = database_url
    if not args.no_migrate:
        _migrate_to_head(database_url)
    if prepare is not None:
        prepare(database_url)
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
    simulator_url = _point_demo_at_simulator(args.sim_port)
    idp_url = f"http://127.0.0.1:{args.idp_port}"
    clients_file = _prepare_development_sign_in(idp_url, args.port)
    _write_demo_environment()
    tools: list[subprocess.Popen[bytes]] = []
    try:
        starters: list[Callable[[], subprocess.Popen[bytes] | None]] = [
            lambda: _start_partner_simulator(args.sim_port)
        ]
        if clients_file is not None:
            starters.append(lambda: _start_development_idp(args.idp_port, clients_file))
        for start in starters:
            # Each started before the next, so a failure still stops those already running.
            tool = start()
            if tool is not None:
                tools.append(tool)
        sign_in = f"; development sign-in on {idp_url}" if clients_file else ""
        print(
            f"Street triage demo: http://{args.host}:{args.port}/docs "
            f"(readiness at /readyz); simulated NHS partners on {simulator_url}{sign_in}. "
            "Ctrl-C stops it; data is kept.",
            file=sys.stderr,
        )
        return _serve(args, prepare=None if args.no_seed else _seed_demo)
    finally:
        for tool in tools:
            tool.terminate()
            tool.wait(timeout=10)


SIMULATOR_URL = "http://127.0.0.1:8900"
# What `triage demo` leaves in its folder for the folder's other commands (`triage db-url`,
# `dev-token`, `audit verify`, `purge`, ...): its settings, read unless already set.
DEMO_ENVIRONMENT_FILE = Path(".triage/demo.env")
DEMO_VARIABLES = (
    "TRIAGE_ENVIRONMENT",
    "TRIAGE_PARTNERSHIP_FILE",
    "TRIAGE_SIGNING_KEYS_FILE",
    "TRIAGE_TRUSTED_ISSUERS",
)


def _point_demo_at_simulator(port: int) -> str:
    """The simulator's address; on another port than the demo partnership's, a copy of the
    partnership pointing there (unless the operator gave their own partnership file)."""
    url = f"http://127.0.0.1:{port}"
    if url == SIMULATOR_URL or os.environ.get("TRIAGE_PARTNERSHIP_FILE"):
        return url
    settings = _settings()
    document = yaml.safe_load(settings.partnership_path.read_text(encoding="utf-8"))
    for partner in document.get("partners", []):
        partner["base_url"] = str(partner["base_url"]).replace(SIMULATOR_URL, url)
    path = settings.keys_dir.parent / f"demo-partnership-{port}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    os.environ["TRIAGE_PARTNERSHIP_FILE"] = str(path.resolve())
    return url


def _write_demo_environment() -> None:
    lines = [f"{name}={os.environ[name]}" for name in DEMO_VARIABLES if os.environ.get(name)]
    DEMO_ENVIRONMENT_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ENVIRONMENT_FILE.write_text(
        "# Written by `triage demo`: its settings, for the other commands run in this folder.\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )


def _read_demo_environment() -> None:
    """In a demo's folder, the demo's settings for anything not already set. Never for `serve`:
    a stray file must not turn a production server into a development one."""
    if not DEMO_ENVIRONMENT_FILE.is_file():
        return
    read = []
    for line in DEMO_ENVIRONMENT_FILE.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name in DEMO_VARIABLES and value and name not in os.environ:
            os.environ[name] = value
            read.append(name)
    if read:
        print(f"triage: using the demo's settings in {DEMO_ENVIRONMENT_FILE}", file=sys.stderr)


def _seed_demo(database_url: str) -> None:
    """On a first start (no incident yet, never seeded): a few months of synthetic incidents, so
    the dashboard has something to show."""
    import asyncio  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    # A tool, not the product: imported only here.
    from sim.demo_incidents import seed  # noqa: PLC0415

    partnership = load_partnership(_settings().partnership_path)
    today = datetime.now(UTC).date()
    seeded = asyncio.run(seed(database_url, partnership.organisations, today=today))
    if seeded:
        print(
            f"Seeded {seeded} synthetic incidents of the last months (`triage demo --no-seed` "
            "skips this on an empty database).",
            file=sys.stderr,
        )


def _prepare_development_sign_in(idp_url: str, api_port: int) -> Path | None:
    """Write the development OpenID provider's clients file and the trusted issuers naming it,
    and point the API at them; None when the operator configured their own issuers."""
    settings = _settings()
    if settings.trusted_issuers is not None:
        return None
    from auth.development import OIDC_CLIENTS_FILE, ensure_development_keys  # noqa: PLC0415

    try:
        partnership = load_partnership(settings.partnership_path)
    except PartnershipConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    signing, issuers = ensure_development_keys(
        settings.keys_dir,
        audience=settings.token_audience,
        organisation_codes=[organisation.code for organisation in partnership.organisations],
        oidc_url=idp_url,
        api_port=api_port,
    )
    # Both set, so the server reads these files rather than writing its own issuers file.
    os.environ["TRIAGE_SIGNING_KEYS_FILE"] = str(settings.signing_keys_file or signing)
    os.environ["TRIAGE_TRUSTED_ISSUERS"] = str(issuers)
    return settings.keys_dir / OIDC_CLIENTS_FILE


def _start_partner_simulator(port: int) -> subprocess.Popen[bytes] | None:
    """The demo partnership's partners live here; reuse a simulator already running."""
    return _start_tool(
        "the partner simulator",
        f"http://127.0.0.1:{port}/_sim/health",
        [sys.executable, "-m", "api.cli", "partner-sim", "--port", str(port)],
    )


def _start_development_idp(port: int, clients_file: Path) -> subprocess.Popen[bytes] | None:
    """The demo's police and NHS sign-in (`python -m devidp`, a tool the product never imports);
    reuse one already running."""
    return _start_tool(
        "the development OpenID provider",
        f"http://127.0.0.1:{port}/_idp/health",
        [sys.executable, "-m", "devidp", "--port", str(port), "--clients", str(clients_file)],
    )


def _start_tool(name: str, health_url: str, command: list[str]) -> subprocess.Popen[bytes] | None:
    """Start a demo tool and wait until it answers at `health_url`; None if one already answers
    there (it is then not ours to stop)."""
    import httpx  # noqa: PLC0415

    def answering() -> bool:
        try:
            return httpx.get(health_url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    if answering():
        print(
            f"Using {name} already answering at {health_url.rsplit('/', 2)[0]}: it was not"
            " started by this demo and will not be stopped by it.",
            file=sys.stderr,
        )
        return None
    process = subprocess.Popen(command)  # noqa: S603 - our own interpreter and modules
    deadline = time.monotonic() + 20
    while not answering():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ConfigurationError(f"{name} did not start ({health_url} does not answer)")
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
    if args.log_keys:
        if not path.exists():
            raise ConfigurationError(f"{path} does not exist; add a token signing key first")
        add_missing_log_keys(path)
        return 0
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
                print("triage purge: incident data past retention…", file=sys.stderr)
                result = await purge_incident_data(
                    session, partnership.agreement.retention, now=now
                )
                print("triage purge: audit events past retention…", file=sys.stderr)
                audit_events = await purge_audit_events(session, audit_cutoff, args.dry_run)
                print(
                    "triage purge: rolling back (dry run)…"
                    if args.dry_run
                    else "triage purge: committing…",
                    file=sys.stderr,
                )
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


class Progress:
    """Progress on stderr for a long command, at most once a second, so stdout stays the
    command's answer (and `--json` stays parseable)."""

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._said_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._said_at < 1.0 and done < total:
            return
        self._said_at = now
        print(f"triage: {self._verb} {done:,} of {total:,}", file=sys.stderr)


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


def _log_keys(settings: Settings) -> "LogKeys":
    """The log's keys, from the signing key file (in development, the generated one)."""
    from api.audit.sealer import load_log_keys_for  # noqa: PLC0415
    from auth.development import SIGNING_KEYS_FILE  # noqa: PLC0415

    path = settings.signing_keys_file
    if path is None:
        if settings.environment != Environment.development:
            raise ConfigurationError("TRIAGE_SIGNING_KEYS_FILE is required outside development")
        path = settings.keys_dir / SIGNING_KEYS_FILE
        if not path.exists():
            write_private_jwks(path, [new_signing_jwk()])
        add_missing_log_keys(path)
    try:
        return load_log_keys_for(
            path,
            settings.audit_log_origin,
            settings.audit_witness_name or f"{settings.audit_log_origin}/witness",
        )
    except KeyFileError as exc:
        raise ConfigurationError(str(exc)) from None


def _audit_verify(args: argparse.Namespace) -> int:
    """As the schema owner, in one read-only snapshot: exit 0 if the log verifies, 1 if not."""
    settings = _settings()
    configure_logging(settings.log_level)
    database_url = _database_url(settings)
    keys = _log_keys(settings)

    import asyncio  # noqa: PLC0415

    from api.audit.service import LogReport, verify_log  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415

    async def verify() -> LogReport:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with database.engine.connect() as connection:
                snapshot = await connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                async with snapshot.begin():
                    return await verify_log(
                        snapshot, keys, batch=max(1, args.batch), progress=Progress("verified")
                    )
        finally:
            await database.dispose()

    report = asyncio.run(verify())
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.problem is None,
                    "leaves": report.leaves,
                    "tree_size": report.tree_size,
                    "checkpoints": report.checkpoints,
                    "purged_before": report.purged_before,
                    "problem": None
                    if report.problem is None
                    else {
                        "kind": report.problem.kind.value,
                        "at": report.problem.at,
                        "description": report.problem.describe(),
                    },
                },
                indent=2,
            )
        )
        return 0 if report.problem is None else 1
    purged = (
        f"; events of the first {report.purged_before} leaves purged, their hashes kept"
        if report.purged_before
        else ""
    )
    if report.problem is None:
        print(
            f"audit log OK: {report.leaves} leaves, tree size {report.tree_size},"
            f" checkpoints verified: {report.checkpoints}{purged}"
        )
        return 0
    print(
        f"audit log BROKEN: {report.problem.kind.value} at {report.problem.at}"
        f" ({report.problem.describe()}); {report.leaves} leaves verified before it{purged}",
        file=sys.stderr,
    )
    return 1


def _audit_seal(args: argparse.Namespace) -> int:
    """One sealing run, as the API's sealer does every second; it waits for no other sealer."""
    settings = _settings()
    configure_logging(settings.log_level)
    database_url = _database_url(settings)
    keys = _log_keys(settings)

    import asyncio  # noqa: PLC0415

    from api.audit.sealer import SealResult, seal  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415

    async def run() -> SealResult | None:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            return await seal(database.engine, keys)
        finally:
            await database.dispose()

    result = asyncio.run(run())
    if result is None:
        print("another sealer is running; it seals what has committed")
        return 0
    print(f"sealed {result.sealed} events; tree size {result.tree_size}")
    return 0


def _audit_witness(args: argparse.Namespace) -> int:
    """Witness a partner's log once; exit 1 (and an event in our log) if it forked or shrank."""
    settings = _settings()
    configure_logging(settings.log_level)
    database_url = _database_url(settings)
    keys = _log_keys(settings)
    if keys.cosigner is None:
        raise ConfigurationError(
            "the signing key file has no Ed25519 key with use audit-cosign to cosign with"
        )
    cosigner = keys.cosigner

    import asyncio  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from api.audit.note import NoteError, Verifier  # noqa: PLC0415
    from api.audit.witness import Witnessed, WitnessUnavailable, witness  # noqa: PLC0415
    from api.database import build_database  # noqa: PLC0415

    try:
        partner = Verifier.parse(args.vkey)
    except NoteError as exc:
        raise ConfigurationError(str(exc)) from None

    async def run() -> Witnessed:
        database = build_database(
            settings.model_copy(update={"database_url": SecretStr(database_url)})
        )
        try:
            async with (
                httpx.AsyncClient(
                    timeout=httpx.Timeout(10.0), follow_redirects=False, trust_env=False
                ) as http,
                database.engine.begin() as connection,
            ):
                return await witness(connection, http, args.url, partner, cosigner)
        finally:
            await database.dispose()

    try:
        result = asyncio.run(run())
    except WitnessUnavailable as exc:
        print(f"could not witness {args.url}: {exc}", file=sys.stderr)
        return 2
    if result.conflict is not None:
        print(
            f"CONFLICT in {result.origin}'s log: {result.conflict}; recorded in our audit log",
            file=sys.stderr,
        )
        return 1
    seen = "first seen" if result.previous_size is None else f"extends {result.previous_size}"
    print(f"{result.origin}: {result.tree_size} leaves, {seen}; cosigned:")
    print(result.cosigned, end="")
    return 0


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
    # A tool, not the product: imported only here, and absent from the container image.
    try:
        from sim import FaultConfigError, serve  # noqa: PLC0415
    except ImportError:
        raise ConfigurationError(
            "the partner simulator is not installed here: it is a tool for demos, tests and"
            " benchmarks, installed with the source (pip install -e .), not in the image"
        ) from None

    try:
        serve(args.host, args.port, args.faults)
    except FaultConfigError as exc:
        raise ConfigurationError(str(exc)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
