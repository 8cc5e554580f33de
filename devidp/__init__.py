"""A development OpenID Connect provider with two issuers on one server: one shaped like Microsoft
Entra ID (a police force's tenant) and one like NHS CIS2 Authentication (NHS staff).

For the demo and the sign-in tests: demo people chosen on a page instead of passwords, real
authorization codes with PKCE, real client authentication and signed ID tokens. A tool, not the
product: the product only starts it as a process (`python -m devidp`) and never imports it.
"""

from devidp.app import create_app, issue_tokens
from devidp.config import Client, ClientFileError, ProviderConfig, load_clients_file
from devidp.people import (
    CIS2_ROLE_MAP,
    DEMO_PEOPLE,
    DEMO_ROLE_MAP,
    ENTRA_TENANT,
    Cis2Person,
    EntraPerson,
    IssuerKind,
    NationalRbacRole,
)
from devidp.provider import Provider, Tokens
from devidp.shapes import issuer_urls

__all__ = [
    "CIS2_ROLE_MAP",
    "DEMO_PEOPLE",
    "DEMO_ROLE_MAP",
    "ENTRA_TENANT",
    "Cis2Person",
    "Client",
    "ClientFileError",
    "EntraPerson",
    "IssuerKind",
    "NationalRbacRole",
    "Provider",
    "ProviderConfig",
    "Tokens",
    "create_app",
    "issue_tokens",
    "issuer_urls",
    "load_clients_file",
]
