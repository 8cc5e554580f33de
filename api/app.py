"""`create_app(settings)`: the application, with everything it opens built in the lifespan."""

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from api.agreement.router import router as agreement_router
from api.agreement.schemas import AgreementRead
from api.anonymous import (
    RATE_LIMITED,
    AnonymousGate,
    AnonymousTraffic,
)
from api.assessment.router import router as assessment_router
from api.audit.router import router as audit_router
from api.crisis_plan.router import review_router as crisis_plan_review_router
from api.crisis_plan.router import router as crisis_plan_router
from api.dashboard.router import router as dashboard_router
from api.database import build_database
from api.errors import install_error_handlers
from api.health.router import router as health_router
from api.idempotency import IdempotentReplay, replay_response, sweep_expired
from api.incident.router import router as incident_router
from api.log import configure_logging
from api.lookup.router import router as lookup_router
from api.metrics import build_metrics
from api.middleware import RequestContextMiddleware
from api.migration import head_revision
from api.notification.router import router as notification_router
from api.openapi import complete_openapi
from api.organisation.repository import sync_organisations
from api.outcome.router import router as outcome_router
from api.partners import build_partners
from api.partnership import load_partnership
from api.report.router import router as report_router
from api.request_text import refuse_control_characters
from api.resources import Resources
from api.settings import Environment, Settings
from api.token.router import router as token_router
from auth.access_token import TokenAuthority
from auth.development import ensure_development_keys
from auth.issuers import IssuerRegistry, TrustedIssuer, load_trusted_issuers
from auth.keys import load_signing_keys
from models import Partnership

logger = logging.getLogger(__name__)

# Routes anyone may call: they disclose nothing, or check credentials in the body themselves.
PUBLIC_ROUTERS = (health_router, agreement_router, token_router, dashboard_router)
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
        paths |= {"/docs", "/docs/oauth2-redirect", "/openapi.json"}
    return frozenset(paths)


def load_issuers(settings: Settings, path: Path) -> list[TrustedIssuer]:
    """The trusted issuers; outside development each must name the organisations it vouches for."""
    return load_trusted_issuers(
        path,
        own_issuer=settings.token_issuer,
        require_organisations=settings.environment != Environment.development,
    )


def create_app(
    settings: Settings, partner_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app. `partner_transport` replaces the network to partner systems (tests, benchmarks)."""
    metrics = build_metrics()
    anonymous = AnonymousTraffic(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        partnership = load_partnership(settings.partnership_path)
        signing_path, issuers_path = key_files(settings, partnership)
        tokens = TokenAuthority(
            keys=load_signing_keys(signing_path, settings.signing_key_id),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )
        trusted = load_issuers(settings, issuers_path)
        # Only for identity providers' key sets: no redirects, no proxies from the environment.
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(3.0),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=10),
        )
        database = build_database(settings)
        partners = build_partners(
            partnership.partners, metrics, settings.partner_transport, partner_transport
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
            )
            logger.info(
                "app.started",
                extra={
                    "fields": {
                        "environment": settings.environment.value,
                        "organisations": len(partnership.organisations),
                    }
                },
            )
            # Stored idempotent responses are deleted by the API itself once expired.
            sweeper = asyncio.create_task(sweep_expired(database.sessionmaker))
            # Refusals without a verifiable token, counted, are written once a minute.
            flusher = asyncio.create_task(anonymous.flush_periodically(database.sessionmaker))
            try:
                yield
            finally:
                sweeper.cancel()
                flusher.cancel()
                await asyncio.gather(sweeper, flusher, return_exceptions=True)
                await anonymous.flush(database.sessionmaker)
        finally:
            await database.dispose()
            await http.aclose()
            await partners.close()
            logger.info("app.stopped")

    docs = settings.docs_enabled
    app = FastAPI(
        title="Street triage API",
        version="0.1.0",
        summary="Minimal, purpose-bound crisis information for police and mental health nurses.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # Before every route's own dependencies: no text with a NUL reaches the database.
        dependencies=[Depends(refuse_control_characters)],
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
        token_paths=frozenset(
            route.path for route in token_router.routes if isinstance(route, APIRoute)
        ),
    )
    app.state.anonymous_traffic = anonymous
    # Every route may answer 429: public ones past their rate per client address (held by
    # `AnonymousGate`), protected ones to a caller past the rate of refusals without a
    # verifiable token.
    for router in (*PUBLIC_ROUTERS, *PROTECTED_ROUTERS):
        app.include_router(router, responses=RATE_LIMITED)
    return app


def create_app_from_environment() -> FastAPI:
    """Uvicorn's factory: settings from `TRIAGE_*`, one JSON log stream."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
