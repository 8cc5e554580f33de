"""`create_app(settings)`: the application, with everything it opens built in the lifespan."""

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from api.agreement.router import page_router as agreement_page_router
from api.agreement.router import router as agreement_router
from api.agreement.schemas import AgreementRead
from api.anonymous import (
    RATE_LIMITED,
    AnonymousGate,
    AnonymousTraffic,
)
from api.assessment.router import router as assessment_router
from api.audit.router import log_router as audit_log_router
from api.audit.router import router as audit_router
from api.audit.sealer import load_log_keys_for, seal_periodically
from api.crisis_plan.router import review_router as crisis_plan_review_router
from api.crisis_plan.router import router as crisis_plan_router
from api.dashboard.router import router as dashboard_router
from api.database import build_database
from api.docs.router import ASSET_PATHS as DOCS_ASSET_PATHS
from api.docs.router import PAGE_PATHS as DOCS_PAGE_PATHS
from api.docs.router import router as docs_router
from api.errors import install_error_handlers
from api.health.router import router as health_router
from api.idempotency import SWEEP_INTERVAL, IdempotentReplay, delete_expired, replay_response
from api.incident.router import router as incident_router
from api.log import configure_logging
from api.lookup.router import router as lookup_router
from api.metrics import build_metrics
from api.middleware import RequestContextMiddleware
from api.migration import head_revision
from api.notification.router import router as notification_router
from api.openapi import complete_openapi, operation_id
from api.organisation.repository import sync_organisations
from api.outcome.router import router as outcome_router
from api.partner_rate import rate_engine
from api.partners import build_partners
from api.partnership import load_partnership
from api.report.router import router as report_router
from api.request_text import refuse_control_characters
from api.resources import Resources
from api.settings import Environment, Settings
from api.signin.router import router as signin_router
from api.signin.service import forget_ended
from api.sweeper import sweep_periodically
from api.tablet.router import router as tablet_router
from api.telemetry import NO_TELEMETRY, Telemetry, telemetry_from_environment
from api.token.router import router as token_router
from auth.access_token import TokenAuthority
from auth.development import ensure_development_keys
from auth.issuers import (
    IssuerRegistry,
    TrustedIssuer,
    load_trusted_issuers,
    provider_http_client,
)
from auth.keys import load_signing_keys
from auth.oidc import sign_in_clients
from models import Partnership
from models.contact_hours import LONDON, load_bank_holidays

logger = logging.getLogger(__name__)

# Routes anyone may call: they disclose nothing, or check credentials in the body themselves.
PUBLIC_ROUTERS = (
    health_router,
    agreement_router,
    token_router,
    signin_router,
    dashboard_router,
    audit_log_router,
    tablet_router,
    agreement_page_router,
)
# Every route of these declares an `Authorizer` with its scopes; a test checks none is missed.
PROTECTED_ROUTERS = (
    incident_router,
    assessment_router,
    outcome_router,
    lookup_router,
    notification_router,
    crisis_plan_router,
    audit_router,
    crisis_plan_review_router,
    report_router,
)


def key_files(settings: Settings, partnership: Partnership) -> tuple[Path, Path]:
    """The signing key set and trusted issuers files; generated for development when unset (the
    development identity provider then vouches for the partnership's organisations)."""
    if settings.signing_keys_file is not None and settings.trusted_issuers is not None:
        return settings.signing_keys_file, settings.trusted_issuers
    if settings.environment != Environment.development:
        raise RuntimeError(
            "signing keys and trusted issuers must be configured outside development"
        )
    signing, issuers = ensure_development_keys(
        settings.keys_dir,
        audience=settings.token_audience,
        organisation_codes=[organisation.code for organisation in partnership.organisations],
    )
    return settings.signing_keys_file or signing, settings.trusted_issuers or issuers


def public_paths(docs: bool) -> frozenset[str]:
    """The paths that need no token; every other path is one an anonymous caller is refused."""
    paths = {
        route.path
        for router in PUBLIC_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    if docs:
        paths |= {"/openapi.json", *DOCS_PAGE_PATHS, *DOCS_ASSET_PATHS}
    return frozenset(paths)


def load_issuers(settings: Settings, path: Path) -> list[TrustedIssuer]:
    """The trusted issuers; outside development each must name the organisations it vouches for."""
    return load_trusted_issuers(
        path,
        own_issuer=settings.token_issuer,
        require_organisations=settings.environment != Environment.development,
    )


def _ready(settings: Settings, partnership: Partnership) -> None:
    """What the first request must not pay for, done; then the start is logged."""
    # Importing the bank-holiday calendar takes a fraction of a second: not at the first lookup.
    load_bank_holidays(datetime.now(LONDON).date())
    logger.info(
        "app.started",
        extra={
            "fields": {
                "environment": settings.environment.value,
                "organisations": len(partnership.organisations),
            }
        },
    )


def create_app(
    settings: Settings,
    partner_transport: httpx.AsyncBaseTransport | None = None,
    telemetry: Telemetry = NO_TELEMETRY,
) -> FastAPI:
    """The app. `partner_transport` replaces the network to partner systems (tests, benchmarks);
    `telemetry` traces requests, database statements and partner calls."""
    metrics = build_metrics()
    anonymous = AnonymousTraffic(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        partnership = load_partnership(
            settings.partnership_path,
            require_https=settings.environment != Environment.development,
        )
        signing_path, issuers_path = key_files(settings, partnership)
        tokens = TokenAuthority(
            keys=load_signing_keys(signing_path, settings.signing_key_id),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )
        trusted = load_issuers(settings, issuers_path)
        app.state.audit_log_keys = log_keys = load_log_keys_for(
            signing_path,
            settings.audit_log_origin,
            settings.audit_witness_name or f"{settings.audit_log_origin}/witness",
        )
        clients = sign_in_clients(trusted)
        # Only for identity providers: no redirects, no proxies from the environment.
        http = provider_http_client()
        database = telemetry.instrument_database(build_database(settings))
        rates = rate_engine(settings) if settings.partner_rate_shared else None
        partners = build_partners(
            partnership.partners,
            metrics,
            settings.partner_transport,
            partner_transport,
            rates,
            telemetry=telemetry,
        )
        try:
            async with database.sessionmaker() as session, session.begin():
                await sync_organisations(session, partnership.organisations)
            app.state.resources = Resources(
                settings=settings,
                database=database,
                metrics=metrics,
                partnership=partnership,
                agreement=AgreementRead.from_partnership(partnership),
                expected_revision=head_revision(),
                tokens=tokens,
                issuers=IssuerRegistry(trusted, http),
                http=http,
                partners=partners,
                sign_in_clients=clients,
            )
            _ready(settings, partnership)
            # Stored idempotent responses are deleted by the API itself once expired.
            sweeper = asyncio.create_task(
                sweep_periodically(
                    [
                        ("idempotency", functools.partial(delete_expired, database.sessionmaker)),
                        ("sign_in", functools.partial(forget_ended, database.sessionmaker)),
                    ],
                    SWEEP_INTERVAL,
                )
            )
            # Refusals without a verifiable token, counted, are written once a minute.
            flusher = asyncio.create_task(anonymous.flush_periodically(database.sessionmaker))
            # Committed audit events are sealed into the log and a checkpoint signed over them.
            sealer = asyncio.create_task(
                seal_periodically(database.engine, log_keys, settings.audit_seal_delay_seconds)
            )
            try:
                yield
            finally:
                sweeper.cancel()
                flusher.cancel()
                sealer.cancel()
                await asyncio.gather(sweeper, flusher, sealer, return_exceptions=True)
                await anonymous.flush(database.sessionmaker)
        finally:
            await database.dispose()
            if rates is not None:
                await rates.dispose()
            await http.aclose()
            await partners.close()
            logger.info("app.stopped")

    docs = settings.docs
    app = FastAPI(
        title="Street triage API",
        version="0.1.0",
        summary="Minimal, purpose-bound crisis information for police and mental health nurses.",
        lifespan=lifespan,
        # Served from the package by `docs_router`, never from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # Before every route's own dependencies: no text with a NUL reaches the database.
        dependencies=[Depends(refuse_control_characters)],
        # Short camelCase operation ids: they become the method names of generated clients.
        generate_unique_id_function=operation_id,
        telemetry=telemetry.fastapi_config(),
    )
    app.openapi = functools.partial(complete_openapi, app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_exception_handler(IdempotentReplay, replay_response)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    # Added last, so outermost: a flood without tokens is turned away before anything else runs.
    app.add_middleware(
        AnonymousGate,
        traffic=anonymous,
        public_paths=public_paths(docs),
        # Routes that check credentials or reach an identity provider: the stricter rate.
        token_paths=frozenset(
            route.path
            for router in (token_router, signin_router)
            for route in router.routes
            if isinstance(route, APIRoute) and route.path != "/auth/providers"
        ),
    )
    app.state.anonymous_traffic = anonymous
    # Every route may answer 429: public ones past their rate per client address (held by
    # `AnonymousGate`), protected ones to a caller past the rate of refusals without a
    # verifiable token.
    for router in (*PUBLIC_ROUTERS, *PROTECTED_ROUTERS):
        app.include_router(router, responses=RATE_LIMITED)
    if docs:
        app.include_router(docs_router)
    return app


def create_app_from_environment() -> FastAPI:
    """Uvicorn's factory: settings from `TRIAGE_*`, one JSON log stream, traces when the standard
    `OTEL_*` variables name an OTLP endpoint."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings, telemetry=telemetry_from_environment())
