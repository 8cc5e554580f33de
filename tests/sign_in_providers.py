"""The development OpenID provider serving an Entra-shaped and a CIS2-shaped issuer over real HTTP,
with the people the sign-in tests need, and a trusted issuers file naming both as a deployment
would (discovery only, organisation fixed or listed, roles mapped)."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import Settings
from devidp import IssuerKind, issuer_urls
from devidp.people import (
    CIS2_ROLE_MAP,
    DEMO_PEOPLE,
    DEMO_ROLE_MAP,
    NURSE,
    NURSE_MANAGER,
    Cis2Person,
    EntraPerson,
    NationalRbacRole,
)
from devidp.provider import Provider
from tests.identity_provider import KeyMaterial
from tests.oidc_provider import (
    TestClient,
    key_client,
    provider_config,
    running_provider,
    secret_client,
)

API = "https://triage.test"
CALLBACK = f"{API}/auth/callback"
ENTRA_CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"
# Another application registered in the same tenant.
OTHER_APPLICATION = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
CIS2_CLIENT = "street-triage-test"


def _cis2_person(
    key: str, uid: str, org_code: str, role: tuple[str, str], **options: Any
) -> Cis2Person:
    entry = NationalRbacRole(
        person_roleid=f"{uid}1",
        person_orgid=f"{uid}2",
        org_code=org_code,
        role_code=role[0],
        role_name=role[1],
    )
    return Cis2Person(
        key=key,
        uid=uid,
        given_name="Test",
        family_name=key.title(),
        title="Mx",
        roles=(entry,),
        selected_roleid=options.pop("selected_roleid", entry.person_roleid),
        **options,
    )


# Beside the demo people: the ones each refusal needs.
TEST_PEOPLE = (
    *DEMO_PEOPLE,
    EntraPerson(
        key="nsp-finance",
        name="Pat Finance",
        preferred_username="pat@northshire-police.example",
        oid="0d5c3f1e-2b7a-4c9d-8e6f-1a2b3c4d5e09",
        roles=("Finance.Reader",),
    ),
    EntraPerson(
        key="nsp-officer-supervisor",
        name="Chris Both",
        preferred_username="chris@northshire-police.example",
        oid="0d5c3f1e-2b7a-4c9d-8e6f-1a2b3c4d5e10",
        roles=("Triage.Officer", "Triage.Supervisor"),
    ),
    _cis2_person("rqi-unselected", "555900000100", "RQI", NURSE, selected_roleid=None),
    # A smartcard holder who signed in with a password today.
    _cis2_person(
        "rqi-password-nurse",
        "555900000200",
        "RQI",
        NURSE,
        authentication_assurance_level=1,
        acr="AAL1_USERPASS",
        amr=("USERNAME_PASSWORD",),
    ),
    # Signed in with a smartcard, but identified only to level 2 when registered.
    _cis2_person("rqi-level-two-nurse", "555900000500", "RQI", NURSE, id_assurance_level=2),
    _cis2_person(
        "rqi-password-manager",
        "555900000300",
        "RQI",
        NURSE_MANAGER,
        id_assurance_level=2,
        authentication_assurance_level=2,
        acr="AAL2_OTP",
    ),
    _cis2_person("other-trust-nurse", "555900000400", "RX3", NURSE),
    # At a trust the provider may assert (listed in the issuers file) but not in the partnership.
    _cis2_person("unlisted-partner-nurse", "555900000600", "RAT", NURSE),
)


@dataclass(frozen=True)
class SignInProviders:
    base_url: str
    provider: Provider
    entra: TestClient
    cis2: TestClient
    issuers_file: Path

    def entra_issuer(self) -> str:
        return issuer_urls(IssuerKind.entra, self.base_url).issuer

    def cis2_issuer(self) -> str:
        return issuer_urls(IssuerKind.cis2, self.base_url).issuer


def trusted_issuers(
    base_url: str, entra: TestClient, cis2: TestClient, directory: Path
) -> dict[str, Any]:
    """The two providers as a deployment's issuers file names them."""
    assert entra.secret is not None
    assert cis2.keys is not None
    (directory / "entra-secret").write_text(entra.secret)
    private, _ = cis2.keys.write(directory, "cis2-client")
    entra_urls = issuer_urls(IssuerKind.entra, base_url)
    cis2_urls = issuer_urls(IssuerKind.cis2, base_url)
    return {
        "issuers": [
            {
                "id": "northshire-police",
                "title": "Northshire Police",
                "issuer": entra_urls.issuer,
                "discovery_url": entra_urls.discovery,
                "audience": entra.client_id,
                "algorithms": ["RS256"],
                "organisation": "NSP",
                "role_claim": "roles",
                "role_map": DEMO_ROLE_MAP,
                "max_lifetime_seconds": 5400,
                "sign_in": {
                    "client_id": entra.client_id,
                    "client_secret_file": "entra-secret",
                    "redirect_uri": CALLBACK,
                },
            },
            {
                "id": "nhs-cis2",
                "title": "NHS smartcard",
                "issuer": cis2_urls.issuer,
                "discovery_url": cis2_urls.discovery,
                "audience": cis2.client_id,
                "algorithms": ["RS256"],
                "profile": "cis2",
                "organisations": ["RQI", "Y05868", "RAT"],
                "role_map": CIS2_ROLE_MAP,
                "min_assurance": {"supervisor": 2},
                "sign_in": {
                    "client_id": cis2.client_id,
                    "client_auth": "private_key_jwt",
                    "client_key_file": private.name,
                    "client_key_algorithm": "RS256",
                    "scopes": [
                        "openid",
                        "profile",
                        "nationalrbacaccess",
                        "selectedrole",
                        "nhsperson",
                    ],
                    "redirect_uri": CALLBACK,
                },
            },
        ]
    }


@pytest.fixture(scope="module")
def sign_in_providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInProviders]:
    entra = secret_client(ENTRA_CLIENT, CALLBACK)
    cis2 = key_client(CIS2_CLIENT, CALLBACK)
    other = secret_client(OTHER_APPLICATION, "https://other.example/callback")
    config = provider_config([entra, cis2, other], people=TEST_PEOPLE)
    directory = tmp_path_factory.mktemp("sign-in-providers")
    from devidp import create_app  # noqa: PLC0415

    app = create_app(config)
    with running_provider(app) as base_url:
        document = trusted_issuers(base_url, entra, cis2, directory)
        path = directory / "issuers.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        yield SignInProviders(base_url, app.state.provider, entra, cis2, path)


def with_test_issuers(own: Path, providers: SignInProviders, directory: Path) -> Path:
    """The tests' usual issuers file and the two providers, in one file."""
    document = yaml.safe_load(own.read_text())
    for entry in document["issuers"]:
        if "jwks_file" in entry:
            entry["jwks_file"] = str(own.parent / entry["jwks_file"])
    extra = yaml.safe_load(providers.issuers_file.read_text())
    for entry in extra["issuers"]:
        for name in ("client_secret_file", "client_key_file"):
            if name in entry["sign_in"]:
                entry["sign_in"][name] = str(providers.issuers_file.parent / entry["sign_in"][name])
    document["issuers"].extend(extra["issuers"])
    path = directory / "issuers-with-providers.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def settings_with_providers(
    settings: Settings, key_material: KeyMaterial, providers: SignInProviders, directory: Path
) -> Settings:
    """The tests' settings, trusting the two providers besides the tests' usual ones."""
    issuers = with_test_issuers(key_material.trusted_issuers_file, providers, directory)
    return settings.model_copy(update={"trusted_issuers": issuers})
