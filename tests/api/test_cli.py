"""The `triage` command as an operator meets it: real processes, real embedded PostgreSQL."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml
from pydantic import SecretStr

from api.app import create_app
from api.settings import DEMO_PARTNERSHIP_FILE, Environment, Settings
from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from auth.keys import load_signing_keys
from tests.identity_provider import KeyMaterial
from tests.processes import free_port

START_TIMEOUT_SECONDS = 60


def triage_command() -> list[str]:
    script = Path(sys.executable).with_name("triage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def clean_environment(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRIAGE_")}
    env.update(values)
    return env


def run_triage(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*triage_command(), *args],
        cwd=cwd,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def key_environment(keys: KeyMaterial) -> dict[str, str]:
    return {
        "TRIAGE_SIGNING_KEYS_FILE": str(keys.signing_keys_file),
        "TRIAGE_TRUSTED_ISSUERS": str(keys.trusted_issuers_file),
    }


@contextmanager
def running_demo(cwd: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*triage_command(), "demo", "--port", str(port)],
        cwd=cwd,
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"demo exited early: {process.stderr.read() if process.stderr else ''}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("demo did not become ready")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def demo_database_url(cwd: Path) -> str:
    result = run_triage("db-url", cwd=cwd, TRIAGE_ENVIRONMENT="development")
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("postgresql://postgres@/triage?host=")
    return url


@pytest.fixture
def demo_dir() -> Iterator[Path]:
    """A folder of our own: the embedded server runs as its own system user and needs to reach
    it, and pytest's shared temporary tree is 0700 and cleaned by other pytest runs."""
    with tempfile.TemporaryDirectory(
        prefix="triage-demo-", ignore_cleanup_errors=True
    ) as directory:
        yield Path(directory)


async def test_demo_comes_up_ready_and_keeps_data_across_restarts(demo_dir: Path) -> None:
    tmp_path = demo_dir
    pgdata = tmp_path / ".triage" / "pgdata"
    with running_demo(tmp_path) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/readyz")).json()["status"] == "ready"
            assert (await http.get("/v1/agreement")).status_code == 200
        connection = await asyncpg.connect(demo_database_url(tmp_path))
        try:
            await connection.execute(
                "INSERT INTO organisation (id, code, name, kind, active, created_at, updated_at) "
                "VALUES (gen_random_uuid(), 'KEEPME1', 'Kept', 'nhs_trust', true, now(), now())"
            )
            # The first start seeded synthetic incidents for the dashboard.
            seeded = await connection.fetchval("SELECT count(*) FROM incident")
        finally:
            await connection.close()
    assert seeded > 0

    # Stopping the demo stops its database too.
    assert not (pgdata / "postmaster.pid").exists()

    with running_demo(tmp_path) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/readyz")).json()["status"] == "ready"
        # The folder's other commands work with no variable set: the demo left its settings.
        for command in (("db-url",), ("dev-token", "--role", "officer", "--org", "NSP")):
            result = run_triage(*command, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
            assert "using the demo's settings" in result.stderr
        connection = await asyncpg.connect(demo_database_url(tmp_path))
        try:
            kept = await connection.fetchval("SELECT name FROM organisation WHERE code = 'KEEPME1'")
            incidents = await connection.fetchval("SELECT count(*) FROM incident")
        finally:
            await connection.close()
    assert kept == "Kept"
    # The second start seeded nothing more.
    assert incidents == seeded


def test_serve_refuses_a_broken_partnership_file(tmp_path: Path, key_material: KeyMaterial) -> None:
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["organisations"][2]["code"] = document["organisations"][1]["code"]
    broken = tmp_path / "partnership.yaml"
    broken.write_text(yaml.safe_dump(document))
    result = run_triage(
        "serve",
        cwd=tmp_path,
        TRIAGE_PARTNERSHIP_FILE=str(broken),
        TRIAGE_DATABASE_URL="postgresql://triage:Real-secret-1@127.0.0.1:1/triage",
        **key_environment(key_material),
    )
    assert result.returncode == 2
    assert "duplicate organisation code 'RQI'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_placeholder_secret_outside_development(
    tmp_path: Path, key_material: KeyMaterial
) -> None:
    result = run_triage(
        "serve",
        cwd=tmp_path,
        TRIAGE_PARTNERSHIP_FILE=str(DEMO_PARTNERSHIP_FILE),
        TRIAGE_DATABASE_URL="postgresql://triage:changethis@127.0.0.1:1/triage",
        **key_environment(key_material),
    )
    assert result.returncode == 2
    assert "placeholder password" in result.stderr
    assert "changethis" not in result.stderr
    assert "Traceback" not in result.stderr


def test_db_url_prints_the_configured_database_for_psql(tmp_path: Path) -> None:
    result = run_triage(
        "db-url",
        cwd=tmp_path,
        TRIAGE_ENVIRONMENT="development",
        TRIAGE_DATABASE_URL="postgresql+asyncpg://triage:pw@db.internal:5433/triage",
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "postgresql://triage:pw@db.internal:5433/triage"


def test_migrate_brings_a_database_to_head(tmp_path: Path, database_url: str) -> None:
    # Already at head: migrate is idempotent and succeeds.
    result = run_triage(
        "migrate", cwd=tmp_path, TRIAGE_ENVIRONMENT="development", TRIAGE_DATABASE_URL=database_url
    )
    assert result.returncode == 0, result.stderr
    assert '"event": "database.migrated"' in result.stderr


def test_dev_token_refuses_outside_development(tmp_path: Path, key_material: KeyMaterial) -> None:
    result = run_triage(
        "dev-token",
        "--role",
        "officer",
        "--org",
        "NSP",
        cwd=tmp_path,
        TRIAGE_PARTNERSHIP_FILE=str(DEMO_PARTNERSHIP_FILE),
        **key_environment(key_material),
    )
    assert result.returncode == 2
    assert "only with TRIAGE_ENVIRONMENT=development" in result.stderr
    assert result.stdout == ""


async def test_dev_token_is_accepted_by_the_development_app(
    tmp_path: Path, database_url: str
) -> None:
    keys_dir = tmp_path / "keys"
    result = run_triage(
        "dev-token",
        "--role",
        "mh_practitioner",
        "--org",
        "RQI",
        cwd=tmp_path,
        TRIAGE_ENVIRONMENT="development",
        TRIAGE_KEYS_DIR=str(keys_dir),
    )
    assert result.returncode == 0, result.stderr
    identity_token = result.stdout.strip()

    settings = Settings(
        environment=Environment.development, database_url=SecretStr(database_url), keys_dir=keys_dir
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.post(
            "/v1/token",
            data={
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": identity_token,
                "subject_token_type": JWT_TOKEN_TYPE,
                "purpose": "crisis-planning",
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "crisis_plan:read crisis_plan:write notification:read"


async def test_user_command_deactivates_and_reactivates(tmp_path: Path, database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    subject = f"cli-{uuid.uuid4().hex[:8]}"
    try:
        await connection.execute(
            "INSERT INTO user_account (id, issuer, subject, display_name, role, organisation_code,"
            " active, first_seen_at, last_seen_at) VALUES ($1, 'https://idp.test', $2, 'CLI user',"
            " 'officer', 'NSP', true, now(), now())",
            uuid.uuid4(),
            subject,
        )
        env = {"TRIAGE_ENVIRONMENT": "development", "TRIAGE_DATABASE_URL": database_url}
        common = ("--issuer", "https://idp.test", "--sub", subject)
        result = run_triage("user", "deactivate", *common, cwd=tmp_path, **env)
        assert result.returncode == 0, result.stderr
        assert not await connection.fetchval(
            "SELECT active FROM user_account WHERE subject = $1", subject
        )
        result = run_triage("user", "activate", *common, cwd=tmp_path, **env)
        assert result.returncode == 0, result.stderr
        assert await connection.fetchval(
            "SELECT active FROM user_account WHERE subject = $1", subject
        )
        missing = run_triage(
            "user", "deactivate", "--issuer", "x", "--sub", "nobody", cwd=tmp_path, **env
        )
        assert missing.returncode == 2
        assert "no such user" in missing.stderr
    finally:
        await connection.execute("DELETE FROM user_account WHERE subject = $1", subject)
        await connection.close()


def test_signing_key_command_adds_keys_for_rotation(tmp_path: Path) -> None:
    path = tmp_path / "signing-keys.json"
    first = run_triage("signing-key", str(path), cwd=tmp_path)
    second = run_triage("signing-key", str(path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    kids = [first.stdout.strip(), second.stdout.strip()]
    keys = load_signing_keys(path, active_kid=kids[1])
    assert list(keys.keys) == kids
    assert keys.active.kid == kids[1]
    assert path.stat().st_mode & 0o777 == 0o600


def test_serve_refuses_to_start_without_a_database_outside_development(
    tmp_path: Path, key_material: KeyMaterial
) -> None:
    """An embedded server inside a container would report ready and lose everything with it."""
    result = run_triage(
        "serve",
        cwd=tmp_path,
        TRIAGE_PARTNERSHIP_FILE=str(DEMO_PARTNERSHIP_FILE),
        **key_environment(key_material),
    )
    assert result.returncode == 2
    assert "TRIAGE_DATABASE_URL is required outside development" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".triage" / "pgdata").exists()


def test_serve_refuses_partners_over_plain_http_outside_development(
    tmp_path: Path, key_material: KeyMaterial
) -> None:
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["partners"][0]["base_url"] = "http://pds.partner.example/FHIR/R4"
    plain = tmp_path / "partnership.yaml"
    plain.write_text(yaml.safe_dump(document))
    result = run_triage(
        "serve",
        cwd=tmp_path,
        TRIAGE_PARTNERSHIP_FILE=str(plain),
        TRIAGE_DATABASE_URL="postgresql://triage:Real-secret-1@127.0.0.1:1/triage",
        **key_environment(key_material),
    )
    assert result.returncode == 2
    assert f"partner {document['partners'][0]['name']} is reached over plain HTTP" in result.stderr
    assert "Traceback" not in result.stderr
