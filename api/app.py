"""`create_app(settings)`: the application, with everything it opens built in the lifespan."""

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.agreement.router import router as agreement_router
from api.agreement.schemas import AgreementRead
from api.assessment.router import router as assessment_router
from api.audit.router import router as audit_router
from api.crisis_plan.router import router as crisis_plan_router
from api.dashboard.router import router as dashboard_router
from api.database import build_database
from api.errors import install_error_handlers
from api.health.router import router as health_router
from api.idempotency import IdempotentReplay, replay_response
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
from api.resources import Resources
from api.settings import Environment, Settings
from api.token.router import router as token_router
from auth.access_token import TokenAuthority
from auth.development import ensure_development_keys
from auth.issuers import IssuerRegistry, load_trusted_issuers
from auth.keys import load_signing_keys

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
    report_router,
)


def key_files(settings: Settings) -> tuple[Path, Path]:
    """The signing key set and trusted issuers files; generated for development when unset."""
    if settings.signing_keys_file is not None and settings.trusted_issuers is not None:
        return settings.signing_keys_file, settings.trusted_issuers
    if settings.environment != Environment.development:
        raise RuntimeError(
            "signing keys and trusted issuers must be configured outside development"
        )
    signing, issuers = ensure_development_keys(settings.keys_dir, audience=settings.token_audience)
    return settings.signing_keys_file or signing, settings.trusted_issuers or issuers


def create_app(
    settings: Settings, partner_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app. `partner_transport` replaces the network to partner systems (tests, benchmarks)."""
    metrics = build_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        partnership = load_partnership(settings.partnership_path)
        signing_path, issuers_path = key_files(settings)
        tokens = TokenAuthority(
            keys=load_signing_keys(signing_path, settings.signing_key_id),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )
        trusted = load_trusted_issuers(issuers_path, own_issuer=settings.token_issuer)
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
            yield
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
    )
    app.openapi = functools.partial(complete_openapi, app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_exception_handler(IdempotentReplay, replay_response)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    for router in (*PUBLIC_ROUTERS, *PROTECTED_ROUTERS):
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """Uvicorn's factory: settings from `TRIAGE_*`, one JSON log stream."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
