"""The FastAPI application: settings, lifespan, routers, services, repositories, errors and CLI."""
