"""One development OpenID provider for the module's tests, with a secret client and a key client."""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from devidp import create_app
from tests.oidc_provider import (
    TestClient,
    key_client,
    provider_config,
    running_provider,
    secret_client,
)

REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
SIGNED_OUT_URI = "http://127.0.0.1:8000/signed-out"


@dataclass(frozen=True)
class RunningIdp:
    base_url: str
    app: FastAPI
    secret_client: TestClient
    key_client: TestClient
    http: httpx.Client


@pytest.fixture(scope="module")
def idp() -> Iterator[RunningIdp]:
    with_secret = secret_client(
        "triage-dashboard-entra", REDIRECT_URI, post_logout_redirect_uris=(SIGNED_OUT_URI,)
    )
    with_key = key_client("triage-dashboard-cis2", REDIRECT_URI)
    app = create_app(provider_config([with_secret, with_key]))
    with running_provider(app) as base_url, httpx.Client(timeout=10) as http:
        yield RunningIdp(base_url, app, with_secret, with_key, http)
