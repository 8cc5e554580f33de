"""Typed settings, read from `TRIAGE_*` environment variables."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from clients.transport import TransportKind

DEMO_PARTNERSHIP_FILE = Path(__file__).parent / "config" / "demo-partnership.yaml"

# Values that appear in examples and must never reach a real deployment.
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "change-me", "changeme", "password", "secret", "postgres"}
)


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore", frozen=True)

    environment: Environment = Environment.production

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: the CLI starts an embedded PostgreSQL in `pgdata_dir`.",
    )
    pgdata_dir: Path = Path(".triage/pgdata")
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    db_max_overflow: Annotated[int, Field(ge=0, le=200)] = 5
    db_pool_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0
    db_connect_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0
    db_statement_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 15.0
    readiness_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0

    partnership_file: Path | None = Field(
        default=None,
        description="Partnership and agreement YAML. Required outside development.",
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024

    token_issuer: str = Field(
        default="urn:street-triage:api", description="`iss` of the tokens this API issues."
    )
    token_audience: str = Field(
        default="urn:street-triage:api", description="`aud` of the tokens this API issues."
    )
    signing_keys_file: Path | None = Field(
        default=None,
        description="JWK set with the EC P-256 private keys that sign our tokens. "
        "Unset in development: generated in `keys_dir`.",
    )
    signing_key_id: str | None = Field(
        default=None, description="`kid` of the key that signs; unset: the first key in the file."
    )
    trusted_issuers: Path | None = Field(
        default=None,
        description="YAML or JSON list of trusted identity providers. Unset in development: "
        "the development identity provider only.",
    )
    keys_dir: Path = Field(
        default=Path(".triage/keys"),
        description="Where development keys are generated and kept.",
    )
    lookup_deadline_seconds: Annotated[float, Field(gt=0.1, le=10)] = 2.0
    partner_transport: TransportKind = Field(
        default=TransportKind.aiohttp,
        description="The connection layer under the partner clients; see bench/README.md.",
    )
    log_level: str = "INFO"
    docs_enabled: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json. Unset: in development only.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics asks for. Unset: /metrics is open in development and "
        "not served elsewhere.",
    )

    # Per client address and per worker process (api/anonymous.py).
    rate_limit_token_per_second: Annotated[float, Field(gt=0, le=100_000)] = 10.0
    rate_limit_token_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    rate_limit_anonymous_per_second: Annotated[float, Field(gt=0, le=100_000)] = 20.0
    rate_limit_anonymous_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 40
    anonymous_refusal_flush_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=60.0,
        description="How often refusals without a verifiable token are written, counted, "
        "to the audit trail.",
    )
    audit_log_origin: Annotated[str, Field(pattern=r"^[^\s+]+$", max_length=200)] = Field(
        default="street-triage.invalid/audit",
        description="The audit log's name in its checkpoints and verifier key: a schema-less URL "
        "naming this organisation's deployment (no spaces, no '+'). Partners' witnesses pin it.",
    )
    audit_witness_name: Annotated[str, Field(pattern=r"^[^\s+]+$", max_length=200)] | None = Field(
        default=None,
        description="The name this organisation cosigns partners' checkpoints under; unset: "
        "the log's origin followed by `/witness`.",
    )
    audit_seal_delay_seconds: Annotated[float, Field(ge=0.2, le=300)] = Field(
        default=2.0,
        description="An audit event is sealed into the log, and a checkpoint signed over it, "
        "within this long of its commit.",
    )
    partner_rate_shared: bool = Field(
        default=True,
        description="Hold each partner's rate across every worker and replica, through the "
        "database; false: each process holds it alone.",
    )
    session_max_seconds: Annotated[int, Field(ge=300, le=86_400)] = Field(
        default=12 * 3600,
        description="How long a browser sign-in lasts at most (a shift), whatever its use.",
    )
    session_idle_seconds: Annotated[int, Field(ge=60, le=86_400)] = Field(
        default=3600,
        description="A browser sign-in unused for this long has ended.",
    )
    anonymous_refusal_max_keys: Annotated[int, Field(ge=10, le=1_000_000)] = Field(
        default=10_000,
        description="Distinct (route, reason, client) keys counted between writes, and client "
        "addresses with a rate limit bucket; past it, refusals count under `other`.",
    )

    @model_validator(mode="after")
    def _enforce_production_safety(self) -> Self:
        if self.environment == Environment.development:
            return self
        for name in ("partnership_file", "signing_keys_file", "trusted_issuers"):
            if getattr(self, name) is None:
                raise ValueError(f"TRIAGE_{name.upper()} is required outside development")
        if self.database_url is not None:
            password = make_url(self.database_url.get_secret_value()).password
            if password is not None and password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "TRIAGE_DATABASE_URL carries a placeholder password; "
                    "set a real secret or TRIAGE_ENVIRONMENT=development"
                )
        return self

    @property
    def docs(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.environment == Environment.development

    @property
    def partnership_path(self) -> Path:
        return self.partnership_file or DEMO_PARTNERSHIP_FILE


def async_database_url(url: str) -> URL:
    """Normalise a libpq-style URL to the asyncpg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("the database URL must be a PostgreSQL URL")
    return parsed.set(drivername="postgresql+asyncpg")


def libpq_database_url(url: str) -> str:
    """The same database as a URL that psql accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
