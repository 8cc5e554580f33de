"""Settings: placeholder secrets and a missing agreement are refused outside development."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import (
    DEMO_PARTNERSHIP_FILE,
    Environment,
    Settings,
    async_database_url,
    libpq_database_url,
)

SIGNING_KEYS = Path("/etc/triage/signing-keys.json")
TRUSTED_ISSUERS = Path("/etc/triage/trusted-issuers.yaml")
KEY_FILES: dict[str, Path | None] = {
    "signing_keys_file": SIGNING_KEYS,
    "trusted_issuers": TRUSTED_ISSUERS,
}


@pytest.mark.parametrize("password", ["changethis", "postgres", "Password", "secret"])
def test_placeholder_database_password_is_refused_in_production(password: str) -> None:
    with pytest.raises(ValidationError, match="placeholder password"):
        Settings(
            environment=Environment.production,
            database_url=SecretStr(f"postgresql://triage:{password}@db.internal/triage"),
            partnership_file=DEMO_PARTNERSHIP_FILE,
            signing_keys_file=SIGNING_KEYS,
            trusted_issuers=TRUSTED_ISSUERS,
        )


def test_placeholder_database_password_is_allowed_in_development() -> None:
    settings = Settings(
        environment=Environment.development,
        database_url=SecretStr("postgresql://triage:changethis@localhost/triage"),
    )
    assert settings.database_url is not None
    assert "changethis" not in repr(settings)  # SecretStr keeps it out of reprs and logs


def test_real_password_is_accepted_in_production() -> None:
    settings = Settings(
        environment=Environment.production,
        database_url=SecretStr("postgresql://triage:Zk3-long-random-value@db.internal/triage"),
        partnership_file=DEMO_PARTNERSHIP_FILE,
        signing_keys_file=SIGNING_KEYS,
        trusted_issuers=TRUSTED_ISSUERS,
    )
    assert settings.partnership_path == DEMO_PARTNERSHIP_FILE


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("partnership_file", "TRIAGE_PARTNERSHIP_FILE"),
        ("signing_keys_file", "TRIAGE_SIGNING_KEYS_FILE"),
        ("trusted_issuers", "TRIAGE_TRUSTED_ISSUERS"),
    ],
)
def test_files_are_required_in_production(missing: str, variable: str) -> None:
    values: dict[str, Path | None] = {"partnership_file": DEMO_PARTNERSHIP_FILE, **KEY_FILES}
    values[missing] = None
    with pytest.raises(ValidationError, match=f"{variable} is required outside development"):
        Settings.model_validate({"environment": Environment.production, **values})


def test_development_falls_back_to_demo_partnership() -> None:
    settings = Settings(environment=Environment.development, partnership_file=None)
    assert settings.partnership_path == DEMO_PARTNERSHIP_FILE
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.pgdata_dir == Path(".triage/pgdata")


def test_settings_read_the_triage_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment is the interface of Settings itself, so this one test sets it.
    monkeypatch.setenv("TRIAGE_ENVIRONMENT", "development")
    monkeypatch.setenv("TRIAGE_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("TRIAGE_PGDATA_DIR", "/var/lib/triage/pgdata")
    settings = Settings()
    assert settings.environment == Environment.development
    assert settings.max_body_bytes == 2048
    assert settings.pgdata_dir == Path("/var/lib/triage/pgdata")


def test_database_urls_are_normalised() -> None:
    socket_url = "postgresql://postgres@/triage?host=/tmp/pg%20data"
    assert async_database_url(socket_url).drivername == "postgresql+asyncpg"
    assert async_database_url(socket_url).query["host"] == "/tmp/pg data"
    assert libpq_database_url("postgresql+asyncpg://u:p@h:5433/d") == "postgresql://u:p@h:5433/d"
    with pytest.raises(ValueError, match="must be a PostgreSQL URL"):
        async_database_url("mysql://u@h/d")
