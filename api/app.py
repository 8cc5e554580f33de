"""`create_app(settings)`: the application, with everything it opens built in the lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.agreement.router import router as agreement_router
from api.agreement.schemas import AgreementRead
from api.database import build_database
from api.errors import install_error_handlers
from api.health.router import router as health_router
from api.log import configure_logging
from api.metrics import build_metrics
from api.middleware import RequestContextMiddleware
from api.migration import head_revision
from api.organisation.repository import sync_organisations
from api.partnership import load_partnership
from api.resources import Resources
from api.settings import Settings

logger = logging.getLogger(__name__)

# Routes anyone may call. Every other router will mount behind authentication (default deny).
PUBLIC_ROUTERS = (health_router, agreement_router)


def create_app(settings: Settings) -> FastAPI:
    metrics = build_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        partnership = load_partnership(settings.partnership_path)
        database = build_database(settings)
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
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """Uvicorn's factory: settings from `TRIAGE_*`, one JSON log stream."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
