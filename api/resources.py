"""What the lifespan builds and every request may use, typed."""

from dataclasses import dataclass

import httpx
from fastapi import Request

from api.agreement.schemas import AgreementRead
from api.database import Database
from api.metrics import Metrics
from api.partners import Partners
from api.settings import Settings
from auth.access_token import TokenAuthority
from auth.issuers import IssuerRegistry
from auth.oidc import ClientCredentials
from models import Partnership


@dataclass(frozen=True)
class Resources:
    settings: Settings
    database: Database
    metrics: Metrics
    partnership: Partnership
    agreement: AgreementRead
    expected_revision: str
    tokens: TokenAuthority
    issuers: IssuerRegistry
    http: httpx.AsyncClient
    partners: Partners
    # The API's credentials at each browser sign-in provider, by provider id.
    sign_in_clients: dict[str, ClientCredentials]


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources
