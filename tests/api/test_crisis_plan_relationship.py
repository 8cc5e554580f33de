"""A trust writes a crisis plan only for a person it cares for; the holders of other plans are told;
another organisation's plan rows are read only inside a lookup.

The scene is the attack that found the gap: a second trust, with a partner's valid credentials,
writes a plan for the first trust's patient with its own number and advice. RQI has a record
endpoint here (faked at the transport, knowing 9000000009); Y05868 has none, so its practitioners
state their relationship, and its information governance officer reviews it.
"""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.crisis_plan.service import Relationship, RelationshipCheck, relationship_rule
from api.settings import Settings
from models import APPLICATION_ROLE
from models.crisis_plan import RelationshipBasis
from tests import lookups
from tests.audit_trail import events_with
from tests.conftest import Exchanger, bearer
from tests.factories import crisis_plan_payload
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import FakePartners
from tests.problems import PROBLEM_BASE, user_id

URL = "/v1/crisis-plans"
REVIEWS = "/v1/crisis-plan-relationship-reviews"
PATIENT = "9000000009"  # in RQI's care: its record endpoint knows him
STRANGER = "9111231130"  # in no trust's patient index (tests.partners.STRANGERS)
SECOND_ADVICE = "Approach with three officers; the second trust's advice."
SECOND_PHONE = "0117 555 0142"

partners = lookups.partners
partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The faked partnership, where Y05868 has no record endpoint."""

    def without_y05868_endpoint(document: dict[str, Any]) -> None:
        document["partners"] = [p for p in document["partners"] if p["name"] != "trust-y05868"]

    return with_faked_partners(settings, tmp_path, without_y05868_endpoint)


async def token(exchanger: Exchanger, org: str, role: str = "mh_practitioner") -> dict[str, str]:
    purpose = "audit" if role == "ig_officer" else "crisis-planning"
    return bearer(await exchanger.token(role, org, purpose))


def second_trusts_plan(**overrides: Any) -> dict[str, Any]:
    payload = crisis_plan_payload(nhs_number=PATIENT, **overrides)
    payload["police"]["approach_advice"] = SECOND_ADVICE
    payload["police"]["crisis_contact"]["phone"] = SECOND_PHONE
    payload["clinical"]["triggers"] = "The second trust's clinical text."
    return payload


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 problem of this status and type (tests.problems.problem, for this module's
    new problem types, whose titles are checked here)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["type"]) == (status, PROBLEM_BASE + slug)
    assert body["title"] == TITLES.get(slug, body["title"])
    return body


TITLES = {
    "relationship-required": "Relationship required",
    "no-care-relationship": "No care relationship",
    "relationship-unchecked": "Could not check the relationship",
    "relationship-review-not-found": "Relationship review not found",
    "relationship-review-completed": "Relationship review completed",
    "own-relationship-review": "Own relationship review",
}


async def plan_count(connection: AsyncConnection) -> int:
    await connection.execute(text("RESET ROLE"))
    return int(await connection.scalar(text("SELECT count(*) FROM crisis_plan")) or 0)


# The rule, as a table


@pytest.mark.parametrize(
    ("endpoint", "stated", "expected"),
    [
        (RelationshipCheck.known, None, Relationship(RelationshipBasis.trust_record, None)),
        (
            RelationshipCheck.known,
            "care_coordinator",
            Relationship(RelationshipBasis.trust_record, "care_coordinator"),
        ),
        (RelationshipCheck.not_known, None, "not_known_to_trust_record"),
        (RelationshipCheck.not_known, "care_coordinator", "not_known_to_trust_record"),
        (RelationshipCheck.unavailable, None, "trust_record_unavailable"),
        (RelationshipCheck.unavailable, "care_coordinator", "trust_record_unavailable"),
        (None, None, "relationship_not_stated"),
        (None, "best_friend", "relationship_not_in_agreement"),
        (None, "care_coordinator", Relationship(RelationshipBasis.stated, "care_coordinator")),
    ],
)
def test_the_relationship_rule(
    endpoint: RelationshipCheck | None, stated: str | None, expected: Relationship | str
) -> None:
    assert relationship_rule(endpoint, stated, {"care_coordinator", "new_referral"}) == expected


# Without an endpoint: a stated relationship


async def test_a_trust_without_an_endpoint_must_state_a_relationship_from_the_agreement(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    nurse = await token(exchanger, "Y05868")
    before = await plan_count(connection)
    missing = await exchanger.client.post(URL, json=second_trusts_plan(), headers=nurse)
    problem(missing, 422, "relationship-required")
    unknown = await exchanger.client.post(
        URL, json=second_trusts_plan(relationship="best_friend"), headers=nurse
    )
    problem(unknown, 422, "relationship-required")
    assert await plan_count(connection) == before
    refused = await events_with(connection, "crisis_plan.create", "relationship", "best_friend")
    assert [action for action, _, _ in refused] == ["crisis_plan.create"]
    await connection.execute(text("RESET ROLE"))
    reasons = (
        await connection.execute(
            text(
                "SELECT reason FROM audit_event WHERE action = 'crisis_plan.create'"
                " AND outcome = 'denied' ORDER BY seq"
            )
        )
    ).all()
    assert [row.reason for row in reasons] == [
        "relationship_not_stated",
        "relationship_not_in_agreement",
    ]


async def test_the_attack_a_second_trust_writes_for_the_first_trusts_patient(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    client = exchanger.client
    rqi, y05868 = await token(exchanger, "RQI"), await token(exchanger, "Y05868")
    first = await client.post(URL, json=crisis_plan_payload(nhs_number=PATIENT), headers=rqi)
    assert first.status_code == 201, first.text

    # With a stated relationship, the write is allowed, audited and queued for its IG review.
    second = await client.post(
        URL, json=second_trusts_plan(relationship="crisis_team_contact"), headers=y05868
    )
    assert second.status_code == 201, second.text
    second_id = second.json()["id"]
    [(_, _, details)] = await events_with(connection, "crisis_plan.create", "plan_id", second_id)
    assert details["relationship"] == {"basis": "stated", "reason": "crisis_team_contact"}
    assert details["notified"] == ["RQI"]
    [(_, _, first_details)] = await events_with(
        connection, "crisis_plan.create", "plan_id", first.json()["id"]
    )
    assert first_details["relationship"] == {"basis": "trust_record", "reason": None}

    queue = await client.get(REVIEWS, headers=await token(exchanger, "Y05868", "ig_officer"))
    assert queue.status_code == 200, queue.text
    [pending] = queue.json()["items"]
    assert (pending["plan_id"], pending["nhs_number"], pending["status"]) == (
        second_id,
        PATIENT,
        "pending",
    )
    assert pending["reason"] == "crisis_team_contact"
    assert pending["reason_title"] == "The crisis team is in contact with the person"
    # RQI's own plan was confirmed by its records: nothing for its IG officer to review.
    rqi_queue = await client.get(REVIEWS, headers=await token(exchanger, "RQI", "ig_officer"))
    assert rqi_queue.json()["items"] == []

    # The first trust is told; the second is not told of its own write.
    told = (await client.get("/v1/notifications", headers=rqi)).json()["items"]
    [written] = [item for item in told if item["access_kind"] == "plan_written"]
    assert written["actor"]["organisation_code"] == "Y05868"
    assert (written["cad_reference"], written["person"]["nhs_number"]) == (None, PATIENT)
    assert (await client.get("/v1/notifications", headers=y05868)).json()["items"] == []

    # At the scene, both plans are shown: neither hides the other.
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": PATIENT})).json()
    shown = {(p["custodian"]["organisation_code"], p["approach_advice"]) for p in answer["plans"]}
    assert ("Y05868", SECOND_ADVICE) in shown
    assert ("RQI", crisis_plan_payload()["police"]["approach_advice"]) in shown
    # Both holders are told of the lookup.
    await connection.execute(text("RESET ROLE"))
    notified = (
        await connection.execute(
            text("SELECT organisation_code FROM access_notification WHERE lookup_id = :id"),
            {"id": uuid.UUID(answer["lookup_id"])},
        )
    ).all()
    assert {row.organisation_code for row in notified} == {"RQI", "Y05868"}

    # Each trust's nurse sees their own clinical section, and never the other's.
    for trust, own_triggers in (
        ("RQI", crisis_plan_payload()["clinical"]["triggers"]),
        ("Y05868", "The second trust's clinical text."),
    ):
        nurse_scene = await scene(exchanger, trust=trust)
        seen = (
            await look_up(exchanger, nurse_scene, {"nhs_number": PATIENT}, "mh_practitioner", trust)
        ).json()
        clinical = {
            (p["custodian"]["organisation_code"], (p["clinical"] or {}).get("triggers"))
            for p in seen["plans"]
        }
        assert (trust, own_triggers) in clinical
        assert all(triggers is None for code, triggers in clinical if code != trust)


async def test_information_governance_reviews_a_stated_relationship_once_and_not_their_own(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    client = exchanger.client
    written = await client.post(
        URL,
        json=second_trusts_plan(relationship="new_referral"),
        headers=await token(exchanger, "Y05868"),
    )
    assert written.status_code == 201, written.text
    ig = await token(exchanger, "Y05868", "ig_officer")
    [pending] = (await client.get(REVIEWS, headers=ig)).json()["items"]
    review = f"{REVIEWS}/{pending['id']}"
    verdict = {"conclusion": "confirmed", "finding": "Referral accepted by the crisis team."}

    # Another organisation's IG officer finds nothing, and may not review it.
    other_ig = await token(exchanger, "RQI", "ig_officer")
    assert (await client.get(REVIEWS, headers=other_ig)).json()["items"] == []
    problem(
        await client.post(review, json=verdict, headers=other_ig),
        404,
        "relationship-review-not-found",
    )
    # The practitioner who stated it, signing in as IG, may not review it.
    same_person = exchanger.idp.token("ig_officer", "Y05868", sub="mh_practitioner-y05868-1")
    own = bearer(await exchanger.token("ig_officer", "Y05868", "audit", subject_token=same_person))
    problem(await client.post(review, json=verdict, headers=own), 403, "own-relationship-review")

    done = await client.post(review, json=verdict, headers=ig)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["conclusion"]) == ("reviewed", "confirmed")
    assert body["reviewer"]["user_id"] == user_id(ig["authorization"].split()[1])
    problem(
        await client.post(review, json=verdict, headers=ig), 409, "relationship-review-completed"
    )
    assert (await client.get(REVIEWS, headers=ig)).json()["items"] == []
    reviewed = (await client.get(REVIEWS, params={"status": "reviewed"}, headers=ig)).json()
    assert [item["id"] for item in reviewed["items"]] == [pending["id"]]
    events = await events_with(
        connection, "crisis_plan.relationship_review", "review_id", pending["id"]
    )
    assert [action for action, _, _ in events] == ["crisis_plan.relationship_review"]


async def test_relationship_reviews_page_through_the_queue(exchanger: Exchanger) -> None:
    client = exchanger.client
    nurse = await token(exchanger, "Y05868")
    for number in ("9000000009", "9000000025", "9000000033"):
        body = crisis_plan_payload(nhs_number=number, relationship="care_coordinator")
        assert (await client.post(URL, json=body, headers=nurse)).status_code == 201
    ig = await token(exchanger, "Y05868", "ig_officer")
    first = (await client.get(REVIEWS, params={"limit": 2}, headers=ig)).json()
    assert len(first["items"]) == 2
    rest = (
        await client.get(REVIEWS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=ig)
    ).json()
    assert (len(rest["items"]), rest["next_cursor"]) == (1, None)
    problem(
        await client.get(REVIEWS, params={"cursor": "nonsense"}, headers=ig), 400, "invalid-cursor"
    )
    nurses_try = await client.get(REVIEWS, headers=nurse)
    assert nurses_try.status_code == 403


# With an endpoint: it must know the person


async def test_a_trust_whose_records_do_not_know_the_person_may_not_write_even_stating_a_reason(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    before = await plan_count(connection)
    refused = await exchanger.client.post(
        URL,
        json=crisis_plan_payload(nhs_number=STRANGER, relationship="care_coordinator"),
        headers=await token(exchanger, "RQI"),
    )
    problem(refused, 403, "no-care-relationship")
    assert STRANGER not in refused.text
    assert await plan_count(connection) == before
    asked = [request for request in partners.requests if request.url.host == "rqi.test"]
    assert asked
    assert all(STRANGER in str(request.url) for request in asked)


async def test_a_trust_whose_records_cannot_be_asked_writes_nothing(
    exchanger: Exchanger, connection: AsyncConnection, partners: FakePartners
) -> None:
    partners.down.add("trust-rqi")
    before = await plan_count(connection)
    refused = await exchanger.client.post(
        URL,
        json=crisis_plan_payload(nhs_number=PATIENT, relationship="care_coordinator"),
        headers=await token(exchanger, "RQI"),
    )
    problem(refused, 503, "relationship-unchecked")
    assert refused.headers["retry-after"] == "30"
    assert await plan_count(connection) == before


async def test_a_trust_whose_records_know_the_person_writes_with_no_review(
    exchanger: Exchanger, partners: FakePartners
) -> None:
    written = await exchanger.client.post(
        URL, json=crisis_plan_payload(nhs_number=PATIENT), headers=await token(exchanger, "RQI")
    )
    assert written.status_code == 201, written.text
    assert any(request.url.host == "rqi.test" for request in partners.requests)


# The database's second lock


async def _as_tenant(connection: AsyncConnection, org: str) -> None:
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    await connection.execute(text("SELECT set_config('app.org', :org, true)"), {"org": org})


async def test_other_organisations_plans_are_invisible_outside_a_lookup(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    written = await exchanger.client.post(
        URL,
        json=second_trusts_plan(relationship="care_coordinator"),
        headers=await token(exchanger, "Y05868"),
    )
    assert written.status_code == 201, written.text
    plan_id = uuid.UUID(written.json()["id"])
    # A lookup reads it, and leaves no door open behind it.
    incident_id = await scene(exchanger)
    answer = (await look_up(exchanger, incident_id, {"nhs_number": PATIENT})).json()
    assert "Y05868" in {p["custodian"]["organisation_code"] for p in answer["plans"]}

    async def visible(table: str, column: str) -> int:
        return int(
            await connection.scalar(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": plan_id}
            )
            or 0
        )

    await connection.execute(text("RESET ROLE"))
    await _as_tenant(connection, "RQI")
    assert (
        await visible("crisis_plan", "id"),
        await visible("crisis_plan_version", "plan_id"),
    ) == (
        0,
        0,
    )
    assert await visible("crisis_plan_relationship", "plan_id") == 0
    await connection.execute(text("SELECT set_config('app.lookup', 'on', true)"))
    assert await visible("crisis_plan", "id") == 1
    await connection.execute(text("SELECT set_config('app.lookup', '', true)"))
    await _as_tenant(connection, "Y05868")
    assert await visible("crisis_plan_relationship", "plan_id") == 1
    await connection.execute(text("RESET ROLE"))
