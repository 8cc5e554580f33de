"""Identity tokens' pure rules, as tables: which organisation an issuer may assert, and the
display name as stored and shown."""

from typing import Any

import pytest

from auth.errors import InvalidToken
from auth.identity import OrganisationNotAllowed, asserted_organisation, display_name
from auth.issuers import TrustedIssuer
from models import Role


def issuer(**organisations: Any) -> TrustedIssuer:
    return TrustedIssuer.model_validate(
        {
            "issuer": "https://idp.example",
            "audience": "urn:street-triage:api",
            "jwks_file": "jwks.json",
            "algorithms": ["RS256"],
        }
        | organisations
    )


FORCE = issuer(organisation="NSP")
TRUSTS = issuer(organisations=["RQI", "Y05868"])
UNBOUND = issuer()  # development only: start-up refuses it elsewhere


@pytest.mark.parametrize(
    ("config", "claimed", "outcome"),
    [
        (FORCE, "NSP", "NSP"),
        (FORCE, None, "NSP"),  # a fixed organisation needs no claim
        (FORCE, "RQI", "organisation_not_allowed_for_issuer"),  # the force's tenant claims a trust
        (TRUSTS, "RQI", "RQI"),
        (TRUSTS, "Y05868", "Y05868"),
        (TRUSTS, "NSP", "organisation_not_allowed_for_issuer"),
        (TRUSTS, "rqi", "organisation_not_allowed_for_issuer"),
        (TRUSTS, None, "org_invalid"),
        (TRUSTS, "", "org_invalid"),
        (TRUSTS, ["RQI"], "org_invalid"),
        (FORCE, 7, "org_invalid"),
        (UNBOUND, "RQI", "RQI"),
        (UNBOUND, None, "org_invalid"),
    ],
)
def test_an_issuer_asserts_only_its_organisations(
    config: TrustedIssuer, claimed: object, outcome: str
) -> None:
    if outcome.isupper() or outcome.isalnum():
        assert asserted_organisation(config, claimed) == outcome
        return
    with pytest.raises((InvalidToken, OrganisationNotAllowed)) as caught:
        asserted_organisation(config, claimed)
    assert caught.value.reason == outcome
    if isinstance(caught.value, OrganisationNotAllowed):
        assert caught.value.error == "invalid_grant"
        assert caught.value.organisation_code == claimed


@pytest.mark.parametrize(
    ("name", "role", "shown"),
    [
        ("PC Jane Smith", Role.officer, "PC Jane Smith"),
        ("  PC Jane Smith  ", Role.officer, "PC Jane Smith"),
        ("PC\tJane\n\nSmith", Role.officer, "PC Jane Smith"),
        # Right-to-left override: "PC Jane [RLO]htimS" reads as "PC Jane Smith" but is another name.
        ("Nurse \u202eevitcetorP", Role.mh_practitioner, "Nurse evitcetorP"),
        ("Nurse \u2066Ann\u2069 Lee\u202c", Role.mh_practitioner, "Nurse Ann Lee"),
        ("A\u200bnn\u200d\ufeff Lee\u2060", Role.mh_practitioner, "Ann Lee"),
        ("Ann\x00\x07\x1b[31m Lee\x7f\x85", Role.mh_practitioner, "Ann[31m Lee"),
        ("Ann\u2028Lee\u2029", Role.mh_practitioner, "Ann Lee"),
        ("Zoë Ōkubo-Łukasz 李娜", Role.supervisor, "Zoë Ōkubo-Łukasz 李娜"),
        ("", Role.officer, "Police officer"),
        ("\u202e\u200b \t", Role.mh_practitioner, "Mental health practitioner"),
        ("\x00", Role.supervisor, "Supervisor"),
        ("\u2066\u2069", Role.ig_officer, "Information governance officer"),
    ],
)
def test_display_names_lose_control_and_bidirectional_characters(
    name: str, role: Role, shown: str
) -> None:
    assert display_name(name, role) == shown
