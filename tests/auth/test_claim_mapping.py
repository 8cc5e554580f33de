"""How a provider's claims become one of our roles and an organisation: every row of the rules."""

from typing import Any

import pytest

from auth.errors import ExchangeRefused, InvalidToken
from auth.identity import choose_role, cis2_selection, mapped_roles
from auth.issuers import TrustedIssuer
from models import Role

ENTRA = TrustedIssuer(
    issuer="https://login.microsoftonline.com/tenant/v2.0",
    audience="client",
    discovery_url="https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration",  # type: ignore[arg-type]
    algorithms=["RS256"],
    organisation="NSP",
    role_claim="roles",
    role_map={"Triage.Officer": Role.officer, "Triage.Supervisor": Role.supervisor},
)
PLAIN = TrustedIssuer(
    issuer="https://idp.example",
    audience="api",
    jwks_url="https://idp.example/jwks",  # type: ignore[arg-type]
    algorithms=["RS256"],
    organisations=["NSP"],
)
CIS2 = TrustedIssuer(
    issuer="https://cis2.example/Healthcare",
    audience="client",
    discovery_url="https://cis2.example/Healthcare/.well-known/openid-configuration",  # type: ignore[arg-type]
    algorithms=["RS256"],
    profile="cis2",
    organisations=["RQI", "Y05868"],
    role_map={
        "R8000": Role.mh_practitioner,
        "R8001": Role.mh_practitioner,
        "R8008": Role.supervisor,
    },
    min_assurance={Role.supervisor: 2},
)


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        # A list, as Entra ID gives app roles; only mapped values count.
        (ENTRA, ["Triage.Officer"], {Role.officer}),
        (ENTRA, ["Triage.Officer", "Triage.Supervisor"], {Role.officer, Role.supervisor}),
        (ENTRA, ["Triage.Officer", "Finance.Reader"], {Role.officer}),
        (ENTRA, ["Finance.Reader"], set()),
        (ENTRA, [], set()),
        # A string works too; an unmapped value maps to nothing, even our own role's name.
        (ENTRA, "Triage.Supervisor", {Role.supervisor}),
        (ENTRA, "officer", set()),
        # No role_map: the values are our role names.
        (PLAIN, "officer", {Role.officer}),
        (PLAIN, ["officer", "supervisor"], {Role.officer, Role.supervisor}),
        (PLAIN, "Officer", set()),
    ],
)
def test_provider_values_map_to_our_roles(
    config: TrustedIssuer, value: object, expected: set[Role]
) -> None:
    assert mapped_roles(config, value) == expected


@pytest.mark.parametrize("value", [None, 7, {"role": "officer"}, ["officer", 7], ["x"] * 201])
def test_a_role_claim_of_another_shape_is_refused(value: object) -> None:
    with pytest.raises(InvalidToken) as caught:
        mapped_roles(ENTRA, value)
    assert caught.value.reason == "role_invalid"


OFFICER, S, P = Role.officer, Role.supervisor, Role.mh_practitioner


@pytest.mark.parametrize(
    ("roles", "wanted", "expected"),
    [
        (set(), None, "invalid_grant:role_not_mapped"),
        (set(), OFFICER, "invalid_grant:role_not_mapped"),
        ({OFFICER}, None, OFFICER),
        ({OFFICER}, OFFICER, OFFICER),
        ({OFFICER}, S, "invalid_grant:role_not_held"),
        ({OFFICER, S}, None, "invalid_request:role_required"),
        ({OFFICER, S}, S, S),
        ({OFFICER, S}, P, "invalid_grant:role_not_held"),
    ],
)
def test_the_role_acted_in(roles: set[Role], wanted: Role | None, expected: object) -> None:
    if isinstance(expected, Role):
        assert choose_role(frozenset(roles), wanted) == expected
        return
    error, reason = str(expected).split(":")
    with pytest.raises(InvalidToken if error == "invalid_grant" else ExchangeRefused) as caught:
        choose_role(frozenset(roles), wanted)
    assert caught.value.reason == reason
    if isinstance(caught.value, ExchangeRefused):
        assert caught.value.error == error


def userinfo(**overrides: Any) -> dict[str, Any]:
    """Shaped as NHS CIS2 answers userinfo (scopes nationalrbacaccess, selectedrole, nhsperson)."""
    document: dict[str, Any] = {
        "sub": "555000000001",
        "nhsid_useruid": "555000000001",
        "name": "Nurse Jo",
        "nhsid_nrbac_roles": [
            {
                "person_orgid": "555000000002",
                "person_roleid": "555000000003",
                "org_code": "RQI",
                "role_name": '"Clinical":"Clinical Provision":"Nurse Access Role"',
                "role_code": "S8000:G8000:R8001",
                "activity_codes": ["B0360"],
            },
            {
                "person_orgid": "555000000004",
                "person_roleid": "555000000005",
                "org_code": "Y05868",
                "role_name": '"Admin & Clerical":"Admin":"Admin/Clinical Support Access Role"',
                "role_code": "S8001:G8002:R8008",
            },
        ],
        "selected_roleid": "555000000003",
        "idassurancelevel": "3",
    }
    for name, value in overrides.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    return document


CLAIMS = {"sub": "555000000001", "authentication_assurance_level": 3, "acr": "AAL3_ANY"}


@pytest.mark.parametrize(
    ("claims", "answer", "expected"),
    [
        # The selected role decides role and organisation; the other role is not used.
        (CLAIMS, userinfo(), ({P}, "RQI", 3)),
        (CLAIMS, userinfo(selected_roleid="555000000005"), ({S}, "Y05868", 3)),
        (CLAIMS, userinfo(idassurancelevel="2"), ({P}, "RQI", 2)),
        (CLAIMS, userinfo(idassurancelevel=3), ({P}, "RQI", 3)),
        # Signed in with less than a smartcard today: the session holds the lower level.
        (CLAIMS | {"authentication_assurance_level": 1}, userinfo(), ({P}, "RQI", 1)),
        (CLAIMS | {"authentication_assurance_level": "2"}, userinfo(), ({P}, "RQI", 2)),
        ({"sub": "555000000001", "acr": "AAL2_OTP"}, userinfo(), ({P}, "RQI", 2)),
        ({"sub": "555000000001", "acr": "AAL3_ANY"}, userinfo(), ({P}, "RQI", 3)),
        ({"sub": "555000000001"}, userinfo(), "assurance_invalid"),
        ({"sub": "555000000001", "acr": "smartcard"}, userinfo(), "assurance_invalid"),
        (CLAIMS | {"authentication_assurance_level": 7}, userinfo(), "assurance_invalid"),
        # The identity token may name the selected role too; it must agree.
        (CLAIMS | {"selected_roleid": "555000000003"}, userinfo(), ({P}, "RQI", 3)),
        (CLAIMS | {"selected_roleid": "555000000005"}, userinfo(), "selected_role_missing"),
        # Userinfo about someone else is never used.
        (CLAIMS | {"sub": "555000000009"}, userinfo(), "userinfo_subject_mismatch"),
        (CLAIMS, userinfo(selected_roleid=None), "selected_role_missing"),
        (CLAIMS, userinfo(selected_roleid=""), "selected_role_missing"),
        (CLAIMS, userinfo(selected_roleid="555000000099"), "selected_role_missing"),
        (CLAIMS, userinfo(nhsid_nrbac_roles=None), "selected_role_missing"),
        (CLAIMS, userinfo(nhsid_nrbac_roles="R8001"), "selected_role_missing"),
        (
            CLAIMS,
            userinfo(nhsid_nrbac_roles=[{"person_roleid": "555000000003", "org_code": "RQI"}]),
            "role_invalid",
        ),
        (
            CLAIMS,
            userinfo(
                nhsid_nrbac_roles=[{"person_roleid": "555000000003", "role_code": "S1:G1:R8001"}]
            ),
            "org_invalid",
        ),
        (CLAIMS, userinfo(idassurancelevel=None), "assurance_invalid"),
        (CLAIMS, userinfo(idassurancelevel="AAL3"), "assurance_invalid"),
        (CLAIMS, userinfo(idassurancelevel=True), "assurance_invalid"),
        (CLAIMS, userinfo(idassurancelevel="4"), "assurance_invalid"),
    ],
)
def test_the_selected_cis2_role(
    claims: dict[str, Any], answer: dict[str, Any], expected: object
) -> None:
    if isinstance(expected, tuple):
        selection = cis2_selection(CIS2, claims, answer)
        assert (selection.roles, selection.organisation_code, selection.assurance_level) == (
            expected
        )
        return
    with pytest.raises(InvalidToken) as caught:
        cis2_selection(CIS2, claims, answer)
    assert caught.value.reason == expected


def test_an_unmapped_selected_role_maps_to_nothing() -> None:
    answer = userinfo()
    answer["nhsid_nrbac_roles"][0]["role_code"] = "S8001:G8005:R5080"
    assert cis2_selection(CIS2, CLAIMS, answer).roles == frozenset()


@pytest.mark.parametrize(
    ("role", "least"),
    [(Role.mh_practitioner, 3), (Role.supervisor, 2), (Role.ig_officer, 3), (Role.officer, 3)],
)
def test_assurance_needed_per_role(role: Role, least: int) -> None:
    assert CIS2.least_assurance(role) == least
