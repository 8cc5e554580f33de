"""Trust boundaries of identity (issue 13): an identity provider asserts only its own
organisations; break-glass stands only on police work and is never reviewed by the person who broke
glass; a break-glass justification is words, not padding; display names carry no control or
bidirectional characters; refusals and revocations of a verifiable token reach the information
governance officer of its organisation."""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from jose import jwt as jose_jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from api.app import create_app
from api.settings import DEMO_PARTNERSHIP_FILE, Settings
from auth.issuers import IssuerConfigError
from models import AuditEvent, BreakGlassReview, UserAccount
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload, outcome_payload
from tests.identity_provider import FORCE_ISSUER, TRUST_ISSUER, KeyMaterial

JUSTIFICATION = "Man on the railway bridge; his plan is needed now"
RLO = "\u202e"
ZWSP = "\u200b"


@pytest.fixture
def practitioners_may_open() -> None:
    """Requested by a test that runs under an agreement giving practitioners `incident:open`."""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if "practitioners_may_open" not in request.fixturenames:
        return settings
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    for rule in document["agreement"]["access"]:
        if rule["role"] == "mh_practitioner":
            rule["explicit_scopes"] = ["incident:open"]
    path = tmp_path / "practitioners-open-incidents.yaml"
    path.write_text(yaml.safe_dump(document))
    return settings.model_copy(update={"partnership_file": path})


def oauth_error(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 400, response.text
    assert "access_token" not in response.text
    body: dict[str, Any] = response.json()
    return body["error"], body["error_description"]


async def refusals(connection: AsyncConnection, reason: str) -> list[Any]:
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        select(AuditEvent).where(
            col(AuditEvent.action) == "token.refuse", col(AuditEvent.reason) == reason
        )
    )
    return list(rows)


async def ig_events(exchanger: Exchanger, org: str, **params: str) -> list[dict[str, Any]]:
    token = await exchanger.token("ig_officer", org, "audit")
    response = await exchanger.client.get("/v1/audit-events", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def police_incident(exchanger: Exchanger, trust: str | None = "RQI") -> uuid.UUID:
    token = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code=trust), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


# --- 1. identity providers bound to organisations ----------------------------------------------


async def test_the_forces_identity_provider_cannot_claim_a_trust(
    exchanger: Exchanger, key_material: KeyMaterial, connection: AsyncConnection
) -> None:
    """The attack: a token signed by the force's provider claiming a trust and a nurse's role."""
    force = key_material.force_idp
    forged = force.token("mh_practitioner", "RQI")
    for purpose in ("crisis-planning", "audit", "street-triage"):
        role = "ig_officer" if purpose == "audit" else "mh_practitioner"
        response = await exchanger.request(
            role, "RQI", purpose, subject_token=force.token(role, "RQI")
        )
        assert oauth_error(response) == (
            "invalid_grant",
            "The identity provider may not assert this organisation.",
        )
    [event, *_] = await refusals(connection, "organisation_not_allowed_for_issuer")
    assert (event.outcome, event.actor_organisation_code) == ("denied", "RQI")
    # The trust's information governance sees someone tried to act as its staff.
    listed = await ig_events(exchanger, "RQI", action="token.refuse")
    assert {item["reason"] for item in listed} == {"organisation_not_allowed_for_issuer"}
    assert forged  # signed, in date, for our audience: only the organisation is wrong


async def test_a_provider_fixed_to_one_organisation_needs_no_claim_and_allows_no_other(
    exchanger: Exchanger, key_material: KeyMaterial
) -> None:
    force = key_material.force_idp
    assert force.issuer == FORCE_ISSUER
    unclaimed = force.sign({k: v for k, v in force.claims("officer", "NSP").items() if k != "org"})
    token = await exchanger.token("officer", "NSP", "street-triage", subject_token=unclaimed)
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    assert response.json()["organisation_code"] == "NSP"
    claimed = force.token("officer", "NSP")
    assert (
        await exchanger.request("officer", "NSP", "street-triage", subject_token=claimed)
    ).status_code == 200
    other = force.token("officer", "SWP")
    assert (
        oauth_error(
            await exchanger.request("officer", "SWP", "street-triage", subject_token=other)
        )[0]
        == "invalid_grant"
    )


async def test_the_trusts_provider_asserts_its_trusts_and_not_the_force(
    exchanger: Exchanger, key_material: KeyMaterial
) -> None:
    trusts = key_material.trust_idp
    assert trusts.issuer == TRUST_ISSUER
    for org in ("RQI", "Y05868"):
        own = trusts.token("mh_practitioner", org)
        response = await exchanger.request(
            "mh_practitioner", org, "crisis-planning", subject_token=own
        )
        assert response.status_code == 200, response.text
    as_police = trusts.token("officer", "NSP")
    response = await exchanger.request("officer", "NSP", "street-triage", subject_token=as_police)
    assert oauth_error(response)[0] == "invalid_grant"


async def test_an_issuer_without_organisations_stops_start_up_outside_development(
    settings: Settings, tmp_path: Path, key_material: KeyMaterial
) -> None:
    document = yaml.safe_load(key_material.trusted_issuers_file.read_text())
    for issuer in document["issuers"]:
        issuer["jwks_file"] = str(key_material.directory / issuer["jwks_file"])
    del document["issuers"][1]["organisation"]
    path = tmp_path / "issuers.yaml"
    path.write_text(yaml.safe_dump(document))
    app: FastAPI = create_app(settings.model_copy(update={"trusted_issuers": path}))
    with pytest.raises(IssuerConfigError) as caught:
        async with app.router.lifespan_context(app):
            pass
    assert FORCE_ISSUER in str(caught.value)
    assert "names no organisations" in str(caught.value)


# --- 2. break-glass anchored to police work ---------------------------------------------------


async def test_practitioners_do_not_open_incidents_under_the_demo_agreement(
    exchanger: Exchanger,
) -> None:
    unbound = await exchanger.request("mh_practitioner", "RQI", "street-triage")
    assert oauth_error(unbound)[0] == "invalid_scope"
    asked = await exchanger.request(
        "mh_practitioner", "RQI", "street-triage", scope="incident:open"
    )
    assert oauth_error(asked)[0] == "invalid_scope"
    # Officers still open incidents, and the practitioner works the one that names their trust.
    incident_id = await police_incident(exchanger)
    bound = await exchanger.request(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    assert bound.status_code == 200
    assert "incident:open" not in bound.json()["scope"].split()


async def test_an_agreement_may_give_practitioners_incident_open_explicitly(
    practitioners_may_open: None, exchanger: Exchanger
) -> None:
    token = await exchanger.token("mh_practitioner", "RQI", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(token)
    )
    assert response.status_code == 201, response.text


async def test_no_break_glass_on_a_practitioners_own_incident(
    practitioners_may_open: None, exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """The attack: a nurse opens an incident of their own, naming their trust, and breaks glass."""
    token = await exchanger.token("mh_practitioner", "RQI", "street-triage")
    opened = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code="RQI"), headers=bearer(token)
    )
    assert opened.status_code == 201, opened.text
    response = await exchanger.request(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=opened.json()["id"],
        justification=JUSTIFICATION,
    )
    assert oauth_error(response)[0] == "invalid_target"
    assert await refusals(connection, "break_glass_not_anchored")
    await connection.execute(text("RESET ROLE"))
    assert (await connection.execute(select(BreakGlassReview))).first() is None


async def test_break_glass_needs_an_open_police_incident_naming_the_trust(
    exchanger: Exchanger,
) -> None:
    named = await police_incident(exchanger, "RQI")
    granted = await exchanger.request(
        "mh_practitioner", "RQI", "break-glass", incident_id=named, justification=JUSTIFICATION
    )
    assert granted.status_code == 200, granted.text
    for trust in ("Y05868", None):
        other = await police_incident(exchanger, trust)
        refused = await exchanger.request(
            "mh_practitioner", "RQI", "break-glass", incident_id=other, justification=JUSTIFICATION
        )
        assert oauth_error(refused)[0] == "invalid_target"
    # Closed: no longer live police work.
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=named)
    url = f"/v1/incidents/{named}"
    recorded = await exchanger.client.put(
        f"{url}/outcome", json=outcome_payload(), headers=bearer(officer)
    )
    assert recorded.status_code == 201, recorded.text
    assert (await exchanger.client.post(f"{url}/close", headers=bearer(officer))).status_code == 200
    after = await exchanger.request(
        "mh_practitioner", "RQI", "break-glass", incident_id=named, justification=JUSTIFICATION
    )
    assert oauth_error(after)[0] == "invalid_target"


# --- 3. no review of one's own break-glass -----------------------------------------------------


async def break_glass(exchanger: Exchanger, subject: str) -> uuid.UUID:
    incident_id = await police_incident(exchanger)
    identity = exchanger.idp.token("mh_practitioner", "RQI", sub=subject)
    await exchanger.token(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=JUSTIFICATION,
        subject_token=identity,
    )
    ig = await exchanger.token("ig_officer", "RQI", "audit")
    listed = await exchanger.client.get("/v1/break-glass-reviews", headers=bearer(ig))
    [item] = listed.json()["items"]
    return uuid.UUID(item["id"])


async def test_the_person_who_broke_glass_cannot_review_it(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    """The attack: the same identity, exchanged as information governance, reviews itself."""
    review_id = await break_glass(exchanger, "nurse-rqi-7")
    same = exchanger.idp.token("ig_officer", "RQI", sub="nurse-rqi-7")
    own = await exchanger.token("ig_officer", "RQI", "audit", subject_token=same)
    url = f"/v1/break-glass-reviews/{review_id}"
    body = {"conclusion": "justified", "finding": "Reviewed: a real emergency at a live incident."}
    response = await exchanger.client.post(url, json=body, headers=bearer(own))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/break-glass-self-review")
    assert "person who broke glass" in problem["title"]

    await connection.execute(text("RESET ROLE"))
    denied = (
        await connection.execute(
            select(AuditEvent).where(
                col(AuditEvent.action) == "break_glass.review",
                col(AuditEvent.outcome) == "denied",
            )
        )
    ).one()
    assert (denied.reason, denied.actor_organisation_code) == ("self_review", "RQI")
    review = (
        await connection.execute(
            select(BreakGlassReview).where(col(BreakGlassReview.id) == review_id)
        )
    ).one()
    assert review.status == "pending"

    # Another officer of the trust reviews it.
    other = exchanger.idp.token("ig_officer", "RQI", sub="ig-rqi-2")
    colleague = await exchanger.token("ig_officer", "RQI", "audit", subject_token=other)
    done = await exchanger.client.post(url, json=body, headers=bearer(colleague))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "reviewed"


# --- 4. a justification is words --------------------------------------------------------------


@pytest.mark.parametrize(
    "justification",
    [
        ZWSP * 20,
        "." * 20,
        "a b c d e f g h i j k l m n o p q r s",
        "\u2060\ufeff" * 10 + "abcdefghij",
        "\u3164" * 25,
        "!!!!!!!!!!2026-11-21!!!!!!!!!!",
    ],
)
async def test_break_glass_justification_of_padding_is_refused(
    exchanger: Exchanger, justification: str
) -> None:
    incident_id = await police_incident(exchanger)
    response = await exchanger.request(
        "mh_practitioner",
        "RQI",
        "break-glass",
        incident_id=incident_id,
        justification=justification,
    )
    error, description = oauth_error(response)
    assert error == "invalid_request"
    assert "10 of them letters" in description


# --- 5. display names -------------------------------------------------------------------------


async def test_display_names_are_stored_and_shown_without_control_or_bidi_characters(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    named = exchanger.idp.token(
        "officer", "NSP", sub="pc-rlo", name=f"PC {RLO}nhoJ{ZWSP}\u2066 Smith\x1b\u2069\n"
    )
    token = await exchanger.token("officer", "NSP", "street-triage", subject_token=named)
    blank = exchanger.idp.token("officer", "NSP", sub="pc-blank", name=f"{RLO}{ZWSP}\u2066\t")
    await exchanger.token("officer", "NSP", "street-triage", subject_token=blank)
    await connection.execute(text("RESET ROLE"))
    names = dict(
        (
            await connection.execute(
                select(UserAccount.subject, UserAccount.display_name).where(
                    col(UserAccount.subject).in_(["pc-rlo", "pc-blank"])
                )
            )
        ).all()
    )
    assert names == {"pc-rlo": "PC nhoJ Smith", "pc-blank": "Police officer"}
    issued = (
        await connection.execute(
            select(AuditEvent.actor_name).where(
                col(AuditEvent.action) == "token.issue",
                col(AuditEvent.token_jti) == uuid.UUID(_claims(token)["jti"]),
            )
        )
    ).scalar_one()
    assert issued == "PC nhoJ Smith"


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jose_jwt.get_unverified_claims(token)
    return claims


# --- 6. refusals and revocations reach the organisation's information governance -------------


async def test_the_organisations_ig_officer_sees_a_revocation_and_the_refusal_after_it(
    exchanger: Exchanger,
) -> None:
    incident_id = await police_incident(exchanger)
    token = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    jti = _claims(token)["jti"]
    revoked = await exchanger.client.post("/v1/token/revoke", data={"token": token})
    assert revoked.status_code == 200
    refused = await exchanger.client.get(f"/v1/incidents/{incident_id}", headers=bearer(token))
    assert refused.status_code == 401

    listed = await ig_events(exchanger, "NSP", token_jti=jti)
    actions = {(item["action"], item["outcome"], item["reason"]) for item in listed}
    assert ("token.revoke", "success", None) in actions
    assert ("access.refuse", "denied", "revoked") in actions
    [revocation] = [item for item in listed if item["action"] == "token.revoke"]
    assert revocation["actor"]["organisation_code"] == "NSP"
    assert revocation["incident_id"] == str(incident_id)
    # Another organisation's officer sees none of it.
    assert await ig_events(exchanger, "RQI", token_jti=jti) == []
