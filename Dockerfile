# Street triage API.
#   build:  docker build -t street-triage-api .
#   run:    docker run -p 8000:8000 \
#             -e TRIAGE_DATABASE_URL=postgresql://triage:<secret>@db:5432/triage \
#             -e TRIAGE_PARTNERSHIP_FILE=/config/partnership.yaml \
#             -e TRIAGE_SIGNING_KEYS_FILE=/config/signing-keys.json \
#             -e TRIAGE_TRUSTED_ISSUERS=/config/trusted-issuers.yaml \
#             -v "$PWD/config:/config:ro" street-triage-api
# The container migrates the database at start (`triage serve`), under an advisory lock so replicas
# starting together take turns. To migrate as a separate step instead, run
# `docker run ... street-triage-api triage migrate` and start replicas with `--no-migrate`.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY api ./api
COPY models ./models
COPY auth ./auth
COPY clients ./clients
COPY migrations ./migrations
# The versions the test suite passed with (requirements.lock, made by uv).
RUN /opt/venv/bin/pip install -c requirements.lock .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRIAGE_ENVIRONMENT=production \
    TRIAGE_DOCS_ENABLED=false
# A fixed uid and gid, so a key file mounted from the host can be given to this user alone
# (`chown 10001:10001 signing-keys.json && chmod 0400 signing-keys.json`).
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --no-create-home triage \
    && mkdir -p /srv/triage && chown triage:triage /srv/triage
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/triage
USER triage
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["triage", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
