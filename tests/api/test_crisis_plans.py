"""Crisis plans written by a trust's practitioners: create, read, replace, withdraw, versions, access
history; who may do it, validation, If-Match, concurrency, audit, and the database's second lock."""

import asyncio
import copy
import uuid
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.crisis_plan.service import _as_trust_record
from api.settings import Settings
from models import APPLICATION_ROLE, CrisisPlan
from models.contact_hours import ContactHours, HoursPeriod, Weekday
from models.partner import CrisisContact
from tests import factories, lookups
from tests.audit_trail import events_with
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import (
    always_open,
    in_days,
    incident_payload,
    nhs_number,
    office_hours,
)
from tests.lookups import scene, with_faked_partners
from tests.problems import problem, user_id

URL = "/v1/crisis-plans"
NHS = "9000000009"
NURSE_NAME = "Test mh_practitioner of RQI"
REASON = "Discharged from the CMHT; plan no longer applies."
WITHDRAW = {"reason": REASON}

partners = lookups.partners
partner_transport = lookups.partner_transport


# Plans here are written under a stated relationship: the trusts have no record endpoint in this
# module's partnership (how a relationship is established is tested in
# test_crisis_plan_relationship.py).
RELATIONSHIP = "care_coordinator"


def crisis_plan_payload(**overrides: Any) -> dict[str, Any]:
    return {"relationship": RELATIONSHIP} | factories.crisis_plan_payload(**overrides)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The demo partnership with partners faked at the transport, less the trusts' endpoints, and
    one rule the demo lacks: police forces' practitioners may use crisis planning (the service
    must still refuse them)."""
    return with_faked_partners(settings, tmp_path, _police_practitioners_may_plan)


def _police_practitioners_may_plan(document: dict[str, Any]) -> None:
    document["partners"] = [p for p in document["partners"] if p["kind"] != "fhir_trust"]
    document["agreement"]["access"].append(
        {
            "organisation_kind": "police_force",
            "role": "mh_practitioner",
            "purposes": ["crisis-planning"],
            "data_classes": ["crisis_flag"],
        }
    )


async def nurse(exchanger: Exchanger, org: str = "RQI", **idp_claims: Any) -> str:
    """A crisis-planning token of a practitioner of `org`; `idp_claims` make a colleague."""
    subject = exchanger.idp.token("mh_practitioner", org, **idp_claims) if idp_claims else None
    return await exchanger.token("mh_practitioner", org, "crisis-planning", subject_token=subject)


def if_match(token: str, revision: int | str | None) -> dict[str, str]:
    headers = bearer(token)
    if revision is not None:
        headers["If-Match"] = f'"{revision}"' if isinstance(revision, int) else revision
    return headers


async def create(
    client: httpx.AsyncClient, token: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(URL, json=payload or crisis_plan_payload(), headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def put(
    client: httpx.AsyncClient,
    token: str,
    plan_id: str,
    revision: int | str | None,
    payload: dict[str, Any],
) -> httpx.Response:
    return await client.put(f"{URL}/{plan_id}", json=payload, headers=if_match(token, revision))


async def withdraw(
    client: httpx.AsyncClient, token: str, plan_id: str, revision: int | str | None
) -> httpx.Response:
    return await client.post(
        f"{URL}/{plan_id}/withdraw", json=WITHDRAW, headers=if_match(token, revision)
    )


def written(payload: dict[str, Any]) -> dict[str, Any]:
    """The body of a PUT: the create body without the NHS number and relationship."""
    return {
        key: value for key, value in payload.items() if key not in {"nhs_number", "relationship"}
    }


def snapshot(payload: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return written(payload) | {"status": status}


def person(token: str, name: str = NURSE_NAME) -> dict[str, str]:
    return {"user_id": user_id(token), "name": name}


def author(token: str, name: str = NURSE_NAME, org: str = "RQI") -> dict[str, str]:
    return person(token, name) | {"role": "mh_practitioner", "organisation_code": org}


def changed_phone(payload: dict[str, Any], phone: str = "+44 113 555 0111") -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    changed["police"]["crisis_contact"]["phone"] = phone
    return changed


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# Writing and reading


async def test_create_returns_the_plan_at_revision_one(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    payload = crisis_plan_payload()
    response = await exchanger.client.post(URL, json=payload, headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert response.headers["location"] == f"{URL}/{body['id']}"
    assert NHS not in response.headers["location"]
    uuid.UUID(body["id"])
    assert set(body) == {
        "id",
        "nhs_number",
        "organisation_code",
        "status",
        "revision",
        "review_date",
        "review_overdue",
        "agreed_with_person",
        "police",
        "clinical",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "withdrawn_at",
        "withdrawn_reason",
    }
    assert body["nhs_number"] == NHS
    assert body["organisation_code"] == "RQI"
    assert (body["status"], body["revision"]) == ("active", 1)
    assert body["review_date"] == payload["review_date"]
    assert body["review_overdue"] is False
    assert body["agreed_with_person"] is True
    assert body["police"] == payload["police"]
    assert body["clinical"] == payload["clinical"]
    assert body["created_by"] == body["updated_by"] == person(token)
    assert body["created_at"] == body["updated_at"]
    assert (body["withdrawn_at"], body["withdrawn_reason"]) == (None, None)

    read = await exchanger.client.get(f"{URL}/{body['id']}", headers=bearer(token))
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == body


async def test_optional_fields_are_returned_as_null_and_empty(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    payload = crisis_plan_payload()
    del payload["police"]["approach_advice"]
    payload["clinical"] = {
        "information_sharing": {
            "consent": "refused",
            "reason_without_consent": "Serious risk to life; shared under the safeguarding basis.",
        }
    }
    body = await create(exchanger.client, token, payload)
    assert body["police"]["approach_advice"] is None
    assert body["clinical"] == {
        "triggers": None,
        "early_signs": None,
        "what_helps": None,
        "what_to_avoid": None,
        "mha_status": None,
        "care_coordinator": None,
        "dependants": None,
        "access_notes": None,
        "safeguarding": None,
        "information_sharing": payload["clinical"]["information_sharing"],
        "actions": [],
    }


async def test_replace_writes_the_next_revision(exchanger: Exchanger) -> None:
    author_token = await nurse(exchanger)
    created = await create(exchanger.client, author_token)
    colleague = await nurse(exchanger, sub="nurse-rqi-2", name="Nurse Two")
    changed = changed_phone(crisis_plan_payload(review_date=in_days(30)))
    changed["police"]["safety_alerts"]["risk_to_others"] = "medium"

    response = await put(exchanger.client, colleague, created["id"], 1, written(changed))
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert body["revision"] == 2
    assert body["police"] == changed["police"]
    assert body["clinical"] == changed["clinical"]
    assert body["review_date"] == changed["review_date"]
    assert body["created_by"] == person(author_token)
    assert body["updated_by"] == person(colleague, "Nurse Two")
    assert body["created_at"] == created["created_at"]
    assert at(body["updated_at"]) > at(created["updated_at"])
    read = await exchanger.client.get(f"{URL}/{created['id']}", headers=bearer(author_token))
    assert read.headers["etag"] == '"2"'
    assert read.json() == body


async def test_review_date_may_be_today_on_update_never_in_the_past(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    past = await put(
        exchanger.client,
        token,
        created["id"],
        1,
        written(crisis_plan_payload(review_date=in_days(-1))),
    )
    body = problem(past, 422, "validation")
    assert [param["location"] for param in body["invalid_params"]] == ["body.review_date"]
    today = await put(
        exchanger.client,
        token,
        created["id"],
        1,
        written(crisis_plan_payload(review_date=in_days(0))),
    )
    assert today.status_code == 200, today.text
    assert today.json()["review_date"] == in_days(0)
    assert today.json()["review_overdue"] is False


# One active plan per person per organisation; withdrawal


async def test_one_active_plan_per_person_per_organisation(exchanger: Exchanger) -> None:
    rqi = await nurse(exchanger)
    first = await create(exchanger.client, rqi)
    again = await exchanger.client.post(URL, json=crisis_plan_payload(), headers=bearer(rqi))
    body = problem(again, 409, "crisis-plan-exists")
    assert NHS not in again.text
    assert body["detail"].startswith("This person has an active crisis plan here")

    # Another trust keeps its own plan for the same person.
    other = await create(exchanger.client, await nurse(exchanger, "Y05868"))
    assert other["organisation_code"] == "Y05868"

    # Once withdrawn, a new plan may be written; the old one stays.
    assert (await withdraw(exchanger.client, rqi, first["id"], 1)).status_code == 200
    second = await create(exchanger.client, rqi)
    assert second["id"] != first["id"]
    search = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": NHS, "include_withdrawn": True}, headers=bearer(rqi)
    )
    assert search.status_code == 200
    assert [(p["id"], p["status"]) for p in search.json()] == [
        (second["id"], "active"),
        (first["id"], "withdrawn"),
    ]
    active_only = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": NHS}, headers=bearer(rqi)
    )
    assert [p["id"] for p in active_only.json()] == [second["id"]]
    assert active_only.json()[0] == second


async def test_withdrawn_plan_stays_readable_and_cannot_be_changed(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    plan_url = f"{URL}/{created['id']}"

    missing = await exchanger.client.post(
        f"{plan_url}/withdraw", json=WITHDRAW, headers=bearer(token)
    )
    problem(missing, 428, "precondition-required")
    response = await withdraw(exchanger.client, token, created["id"], 1)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert (body["status"], body["revision"], body["withdrawn_reason"]) == ("withdrawn", 2, REASON)
    assert body["withdrawn_at"] == body["updated_at"]
    assert body["police"] == created["police"]
    assert body["clinical"] == created["clinical"]

    read = await exchanger.client.get(plan_url, headers=bearer(token))
    assert read.status_code == 200
    assert read.json() == body

    edit = await put(
        exchanger.client, token, created["id"], 2, written(changed_phone(crisis_plan_payload()))
    )
    problem(edit, 409, "crisis-plan-withdrawn")
    problem(await withdraw(exchanger.client, token, created["id"], 2), 409, "crisis-plan-withdrawn")
    unchanged = await exchanger.client.get(plan_url, headers=bearer(token))
    assert unchanged.json() == body

    listed = await exchanger.client.get(URL, params={"status": "withdrawn"}, headers=bearer(token))
    assert created["id"] in [item["id"] for item in listed.json()["items"]]
    active = await exchanger.client.get(URL, headers=bearer(token))
    assert created["id"] not in [item["id"] for item in active.json()["items"]]


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 2001])
async def test_withdrawal_needs_a_reason(exchanger: Exchanger, reason: str | None) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    body = {} if reason is None else {"reason": reason}
    response = await exchanger.client.post(
        f"{URL}/{created['id']}/withdraw", json=body, headers=if_match(token, 1)
    )
    problem(response, 422, "validation")


# Versions


async def test_versions_are_complete_and_in_order_with_changed_paths(exchanger: Exchanger) -> None:
    first_nurse = await nurse(exchanger)
    colleague = await nurse(exchanger, sub="nurse-rqi-2", name="Nurse Two")
    v1 = crisis_plan_payload()
    created = await create(exchanger.client, first_nurse, v1)
    plan_id = created["id"]

    v2 = changed_phone(v1)
    v2["review_date"] = in_days(60)
    assert (await put(exchanger.client, first_nurse, plan_id, 1, written(v2))).status_code == 200
    v3 = copy.deepcopy(v2)
    v3["clinical"]["actions"].append({"when": "He asks for Jo", "action": "Ring his sister Jo."})
    v3["clinical"]["actions"][0]["when"] = "He is found on a bridge or at height"
    v3["clinical"]["information_sharing"] = {
        "consent": "refused",
        "reason_without_consent": "Shared to protect his life, DPA 2018 Schedule 1.",
    }
    assert (await put(exchanger.client, colleague, plan_id, 2, written(v3))).status_code == 200
    # A replacement that changes nothing is still a version, with nothing changed.
    assert (await put(exchanger.client, colleague, plan_id, 3, written(v3))).status_code == 200
    assert (await withdraw(exchanger.client, first_nurse, plan_id, 4)).status_code == 200

    response = await exchanger.client.get(f"{URL}/{plan_id}/versions", headers=bearer(colleague))
    assert response.status_code == 200
    versions = response.json()
    assert [v["revision"] for v in versions] == [1, 2, 3, 4, 5]
    assert [v["kind"] for v in versions] == [
        "created",
        "updated",
        "updated",
        "updated",
        "withdrawn",
    ]
    assert [v["changed_paths"] for v in versions] == [
        [],
        ["police.crisis_contact.phone", "review_date"],
        [
            "clinical.actions.0.when",
            "clinical.actions.1",
            "clinical.information_sharing.consent",
            "clinical.information_sharing.reason_without_consent",
        ],
        [],
        ["status"],
    ]
    assert [v["author"] for v in versions] == [
        author(first_nurse),
        author(first_nurse),
        author(colleague, "Nurse Two"),
        author(colleague, "Nurse Two"),
        author(first_nurse),
    ]
    assert [v["content"] for v in versions] == [
        snapshot(v1),
        snapshot(v2),
        snapshot(v3),
        snapshot(v3),
        snapshot(v3, "withdrawn"),
    ]
    assert [v["reason"] for v in versions] == [None, None, None, None, REASON]
    changed_at = [at(v["changed_at"]) for v in versions]
    assert changed_at == sorted(changed_at)
    assert versions[0]["changed_at"] == created["created_at"]
    plan = (await exchanger.client.get(f"{URL}/{plan_id}", headers=bearer(colleague))).json()
    assert versions[-1]["changed_at"] == plan["updated_at"] == plan["withdrawn_at"]


# If-Match and concurrency


async def test_replacing_needs_the_current_revision_in_if_match(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    body = written(changed_phone(crisis_plan_payload()))

    problem(
        await put(exchanger.client, token, created["id"], None, body), 428, "precondition-required"
    )
    assert (await put(exchanger.client, token, created["id"], 1, body)).status_code == 200
    stale = await put(exchanger.client, token, created["id"], 1, body)
    problem(stale, 412, "precondition-failed")
    assert stale.headers["etag"] == '"2"'
    weak = await put(exchanger.client, token, created["id"], 'W/"2"', body)
    problem(weak, 412, "precondition-failed")
    versions = await exchanger.client.get(f"{URL}/{created['id']}/versions", headers=bearer(token))
    assert [v["revision"] for v in versions.json()] == [1, 2]


async def test_concurrent_edits_of_one_revision_exactly_one_wins(committing: Committing) -> None:
    exchanger = committing.exchanger
    first, second = await nurse(exchanger), await nurse(exchanger, sub="nurse-rqi-2")
    created = await create(exchanger.client, first)
    responses = await asyncio.gather(
        put(
            exchanger.client,
            first,
            created["id"],
            1,
            written(changed_phone(crisis_plan_payload(), "0113 555 0001")),
        ),
        put(
            exchanger.client,
            second,
            created["id"],
            1,
            written(changed_phone(crisis_plan_payload(), "0113 555 0002")),
        ),
    )
    assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
    (winner,) = (r for r in responses if r.status_code == 200)
    (loser,) = (r for r in responses if r.status_code == 412)
    problem(loser, 412, "precondition-failed")
    assert winner.headers["etag"] == loser.headers["etag"] == '"2"'
    read = await exchanger.client.get(f"{URL}/{created['id']}", headers=bearer(first))
    assert read.json() == winner.json()
    versions = await exchanger.client.get(f"{URL}/{created['id']}/versions", headers=bearer(first))
    assert [v["revision"] for v in versions.json()] == [1, 2]


async def test_concurrent_creates_for_one_person_exactly_one_wins(committing: Committing) -> None:
    exchanger = committing.exchanger
    tokens = [await nurse(exchanger), await nurse(exchanger, sub="nurse-rqi-2")]
    payload = crisis_plan_payload(nhs_number=nhs_number(123456780))
    responses = await asyncio.gather(
        *(exchanger.client.post(URL, json=payload, headers=bearer(t)) for t in tokens * 2)
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [
        r.text for r in responses
    ]
    search = await exchanger.client.post(
        f"{URL}/_search",
        json={"nhs_number": payload["nhs_number"], "include_withdrawn": True},
        headers=bearer(tokens[0]),
    )
    assert len(search.json()) == 1


async def test_a_retried_create_with_its_idempotency_key_writes_once(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    headers = bearer(token) | {"Idempotency-Key": "plan-create-1"}
    first = await exchanger.client.post(URL, json=crisis_plan_payload(), headers=headers)
    assert first.status_code == 201, first.text
    retry = await exchanger.client.post(URL, json=crisis_plan_payload(), headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert (retry.headers["etag"], retry.headers["location"]) == (
        first.headers["etag"],
        first.headers["location"],
    )
    withdrawn = bearer(token) | {"Idempotency-Key": "plan-withdraw-1", "If-Match": '"1"'}
    plan_url = f"{URL}/{first.json()['id']}/withdraw"
    once = await exchanger.client.post(plan_url, json=WITHDRAW, headers=withdrawn)
    twice = await exchanger.client.post(plan_url, json=WITHDRAW, headers=withdrawn)
    assert (once.status_code, twice.status_code) == (200, 200)
    assert twice.json() == once.json()
    assert twice.headers["idempotent-replayed"] == "true"


# Who may do it


async def test_another_trusts_practitioner_finds_nothing(exchanger: Exchanger) -> None:
    rqi = await nurse(exchanger)
    created = await create(exchanger.client, rqi)
    plan_url = f"{URL}/{created['id']}"
    other = await nurse(exchanger, "Y05868")

    problem(
        await exchanger.client.get(plan_url, headers=bearer(other)), 404, "crisis-plan-not-found"
    )
    problem(
        await put(exchanger.client, other, created["id"], 1, written(crisis_plan_payload())),
        404,
        "crisis-plan-not-found",
    )
    problem(await withdraw(exchanger.client, other, created["id"], 1), 404, "crisis-plan-not-found")
    for suffix in ("versions", "access-history"):
        response = await exchanger.client.get(f"{plan_url}/{suffix}", headers=bearer(other))
        problem(response, 404, "crisis-plan-not-found")
    search = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": NHS, "include_withdrawn": True}, headers=bearer(other)
    )
    assert search.json() == []
    listed = await exchanger.client.get(URL, params={"status": "all"}, headers=bearer(other))
    assert created["id"] not in listed.text

    # Nothing was changed by the attempts.
    read = await exchanger.client.get(plan_url, headers=bearer(rqi))
    assert read.json() == created


@pytest.mark.parametrize(
    ("role", "org", "purpose"),
    [
        ("officer", "NSP", "street-triage"),
        ("mh_practitioner", "RQI", "street-triage"),
        ("supervisor", "NSP", "supervision"),
        ("supervisor", "RQI", "supervision"),
        ("ig_officer", "RQI", "audit"),
    ],
)
async def test_only_crisis_planning_tokens_reach_the_routes(
    exchanger: Exchanger, role: str, org: str, purpose: str
) -> None:
    created = await create(exchanger.client, await nurse(exchanger))
    plan_url = f"{URL}/{created['id']}"
    # A practitioner at a scene holds street triage only bound to a police incident.
    bound = await scene(exchanger) if role == "mh_practitioner" else None
    token = await exchanger.token(role, org, purpose, incident_id=bound)
    requests = [
        ("POST", URL, crisis_plan_payload(nhs_number=nhs_number(100000000))),
        ("GET", URL, None),
        ("POST", f"{URL}/_search", {"nhs_number": NHS}),
        ("GET", plan_url, None),
        ("PUT", plan_url, written(crisis_plan_payload())),
        ("POST", f"{plan_url}/withdraw", WITHDRAW),
        ("GET", f"{plan_url}/versions", None),
        ("GET", f"{plan_url}/access-history", None),
    ]
    for method, url, body in requests:
        response = await exchanger.client.request(
            method, url, json=body, headers=if_match(token, 1)
        )
        problem(response, 403, "forbidden")
        assert NHS not in response.text


async def test_a_practitioner_outside_an_nhs_trust_is_refused_and_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await nurse(exchanger, "NSP")  # this agreement lets the purpose through
    response = await exchanger.client.post(URL, json=crisis_plan_payload(), headers=bearer(token))
    problem(response, 403, "not-a-crisis-planner")
    listed = await exchanger.client.get(URL, headers=bearer(token))
    problem(listed, 403, "not-a-crisis-planner")
    await connection.execute(text("RESET ROLE"))
    reasons = (
        await connection.execute(
            text(
                "SELECT route FROM audit_event WHERE action = 'access.refuse'"
                " AND reason = 'not_a_crisis_planner' AND actor_user_id = :user ORDER BY occurred_at"
            ),
            {"user": uuid.UUID(user_id(token))},
        )
    ).scalars()
    assert list(reasons) == [URL, URL]


# Validation


def _set(path: str, value: Any) -> dict[str, Any]:
    payload = crisis_plan_payload()
    *parents, last = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return payload


_DELETE = object()
_PERIOD = {"days": ["mon", "tue"], "opens": "09:00", "closes": "17:00"}


@pytest.mark.parametrize(
    ("path", "value", "location"),
    [
        ("nhs_number", "9000000008", "body.nhs_number"),
        ("nhs_number", "0000000000", "body.nhs_number"),
        ("nhs_number", "900000000", "body.nhs_number"),
        ("police.crisis_contact.phone", "0113 555 01", "body.police.crisis_contact.phone"),
        ("police.crisis_contact.phone", "+44 (0)113 555 0100", "body.police.crisis_contact.phone"),
        ("police.crisis_contact.phone", "+1 212 555 0100", "body.police.crisis_contact.phone"),
        ("police.crisis_contact.phone", "0113.555.0100", "body.police.crisis_contact.phone"),
        ("police.crisis_contact.phone", "0113 555 0100 ext 2", "body.police.crisis_contact.phone"),
        ("police.crisis_contact.hours", _DELETE, "body.police.crisis_contact.hours"),
        ("police.crisis_contact.hours", "  ", "body.police.crisis_contact.hours"),
        # Hours are structured now; the words plans once held are only read, never written.
        ("police.crisis_contact.hours", "24 hours", "body.police.crisis_contact.hours"),
        ("police.crisis_contact.hours", {}, "body.police.crisis_contact.hours"),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD | {"days": []}]},
            "body.police.crisis_contact.hours.periods.0.days",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [{"days": ["mon"], "opens": "09:00"}]},
            "body.police.crisis_contact.hours.periods.0.closes",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD | {"days": ["mon", "funday"]}]},
            "body.police.crisis_contact.hours.periods.0.days.1",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD | {"days": ["mon", "mon"]}]},
            "body.police.crisis_contact.hours.periods.0.days",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD | {"opens": "09:00+01:00"}]},
            "body.police.crisis_contact.hours.periods.0.opens",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD | {"closes": "25:00"}]},
            "body.police.crisis_contact.hours.periods.0.closes",
        ),
        (
            "police.crisis_contact.hours",
            {"periods": [_PERIOD] * 15},
            "body.police.crisis_contact.hours.periods",
        ),
        (
            "police.crisis_contact.hours",
            {"always": True, "periods": [_PERIOD]},
            "body.police.crisis_contact.hours",
        ),
        (
            "police.crisis_contact.hours",
            {"always": False, "periods": []},
            "body.police.crisis_contact.hours",
        ),
        (
            "police.crisis_contact.hours",
            {"always": True, "holidays": True},
            "body.police.crisis_contact.hours.holidays",
        ),
        ("police.crisis_contact.out_of_hours", _DELETE, "body.police.crisis_contact.out_of_hours"),
        (
            "police.crisis_contact.out_of_hours",
            "Crisis line 0800 555 0199",
            "body.police.crisis_contact.out_of_hours",
        ),
        (
            "police.crisis_contact.out_of_hours.phone",
            _DELETE,
            "body.police.crisis_contact.out_of_hours.phone",
        ),
        (
            "police.crisis_contact.out_of_hours.phone",
            "NHS 111",
            "body.police.crisis_contact.out_of_hours.phone",
        ),
        (
            "police.crisis_contact.out_of_hours.description",
            "  ",
            "body.police.crisis_contact.out_of_hours.description",
        ),
        (
            "police.crisis_contact.out_of_hours.notes",
            "x",
            "body.police.crisis_contact.out_of_hours.notes",
        ),
        ("police.crisis_contact", _DELETE, "body.police.crisis_contact"),
        ("police.approach_advice", "a" * 501, "body.police.approach_advice"),
        ("police.safety_alerts.risk_to_self", "severe", "body.police.safety_alerts.risk_to_self"),
        ("clinical.triggers", "t" * 2001, "body.clinical.triggers"),
        ("clinical.care_coordinator", "n" * 201, "body.clinical.care_coordinator"),
        (
            "clinical.actions",
            [{"when": "w", "action": "a"}] * 21,
            "body.clinical.actions",
        ),
        (
            "clinical.information_sharing",
            {"consent": "not_asked"},
            "body.clinical.information_sharing",
        ),
        ("review_date", in_days(0), "body.review_date"),
        ("review_date", in_days(-30), "body.review_date"),
        ("agreed_with_person", _DELETE, "body.agreed_with_person"),
        # Server-set fields cannot be smuggled in.
        ("organisation_code", "Y05868", "body.organisation_code"),
        ("revision", 7, "body.revision"),
        ("status", "withdrawn", "body.status"),
        ("author", "Someone else", "body.author"),
        ("created_by", str(uuid.uuid4()), "body.created_by"),
        ("police.clinical_notes", "x", "body.police.clinical_notes"),
        (
            "clinical.information_sharing.shared_with",
            "x",
            "body.clinical.information_sharing.shared_with",
        ),
    ],
)
async def test_invalid_plans_are_422_and_never_echo_the_input(
    exchanger: Exchanger, path: str, value: Any, location: str
) -> None:
    token = await nurse(exchanger)
    payload = _set(path, value)
    response = await exchanger.client.post(URL, json=payload, headers=bearer(token))
    body = problem(response, 422, "validation")
    assert [param["location"] for param in body["invalid_params"]] == [location]
    if isinstance(value, str) and len(value) >= 5:
        assert value not in response.text
    assert NHS not in response.text
    listed = await exchanger.client.get(URL, params={"status": "all"}, headers=bearer(token))
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "phone",
    [
        "0113 555 0100",
        "01135550100",
        "(0113) 555-0100",
        "07700 900123",
        "+44 113 555 0100",
        "+447700900123",
        "0800 555 019",
    ],
)
async def test_uk_phone_numbers_are_accepted_as_written(exchanger: Exchanger, phone: str) -> None:
    token = await nurse(exchanger)
    body = await create(exchanger.client, token, _set("police.crisis_contact.phone", phone))
    assert body["police"]["crisis_contact"]["phone"] == phone


async def test_replacement_cannot_change_server_set_fields(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    for extra in (
        {"nhs_number": nhs_number(200000000)},
        {"organisation_code": "Y05868"},
        {"revision": 9},
        {"status": "withdrawn"},
        {"updated_by": str(uuid.uuid4())},
    ):
        response = await put(
            exchanger.client, token, created["id"], 1, written(crisis_plan_payload()) | extra
        )
        problem(response, 422, "validation")
    read = await exchanger.client.get(f"{URL}/{created['id']}", headers=bearer(token))
    assert read.json() == created


# Contact hours: structured when written; the words of older plans are read, never guessed


async def test_structured_hours_and_out_of_hours_are_kept_as_written(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    hours = office_hours("08:30:00", "18:00:00", bank_holidays=True)
    hours["periods"].append({"days": ["fri", "sat"], "opens": "20:00:00", "closes": "02:00:00"})
    payload = _set("police.crisis_contact.hours", hours)
    body = await create(exchanger.client, token, payload)
    assert body["police"] == payload["police"]

    # Times may be given without seconds; an office line is closed on bank holidays by default.
    short = _set(
        "police.crisis_contact.hours",
        {
            "periods": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "09:00", "closes": "17:00"}
            ]
        },
    )
    replaced = await put(exchanger.client, token, body["id"], 1, written(short))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["police"]["crisis_contact"]["hours"] == office_hours()


def test_a_plans_contact_reaches_the_lookup_with_its_schedule_and_number() -> None:
    police = crisis_plan_payload()["police"]
    police["crisis_contact"]["hours"] = office_hours()
    record = _as_trust_record(_stored(police))
    assert record.plan is not None
    assert record.plan.crisis_contact == CrisisContact(
        team="Crisis resolution team",
        phone="0113 555 0100",
        hours="Mon-Fri 09:00-17:00 (excluding bank holidays)",
        out_of_hours="Avonmere crisis line: 0800 555 0199",
        schedule=ContactHours(
            periods=(
                HoursPeriod(
                    days=(Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri),
                    opens=time(9),
                    closes=time(17),
                ),
            )
        ),
        out_of_hours_phone="0800 555 0199",
    )


def _stored(police: dict[str, Any]) -> CrisisPlan:
    """A plan row as the lookup reads it, holding `police` as its police section."""
    return CrisisPlan(
        person_id=uuid.uuid4(),
        organisation_code="RQI",
        content={"police": police, "clinical": crisis_plan_payload()["clinical"]},
        review_date=date(2027, 3, 1),
        agreed_with_person=True,
        created_by=uuid.uuid4(),
        created_by_name="n",
        updated_by=uuid.uuid4(),
        updated_by_name="n",
    )


# Plans written before hours were structured: (hours, out_of_hours) as stored, then as read
# through the API, then as the lookup gets them.
LEGACY_CONTACTS = [
    (
        ("Office hours", "NHS 111, option 2"),
        {
            "hours": {"unknown": True, "as_written": "Office hours"},
            "out_of_hours": {"description": "NHS 111, option 2", "phone": None},
        },
        ("Office hours", "NHS 111, option 2", None, None),
    ),
    (
        ("Mon-Fri 9-5", "Crisis line 0800 555 0199, 24 hours"),
        {
            "hours": office_hours(),
            "out_of_hours": {
                "description": "Crisis line 0800 555 0199, 24 hours",
                "phone": "0800 555 0199",
            },
        },
        (
            "Mon-Fri 09:00-17:00 (excluding bank holidays)",
            "Crisis line 0800 555 0199, 24 hours",
            ContactHours.model_validate(office_hours()),
            "0800 555 0199",
        ),
    ),
    (
        ("24 hours", "0800 555 0199"),
        {
            "hours": always_open(),
            "out_of_hours": {"description": "0800 555 0199", "phone": "0800 555 0199"},
        },
        ("24 hours", "0800 555 0199", ContactHours(always=True), "0800 555 0199"),
    ),
]


@pytest.mark.parametrize(("stored", "read", "looked_up"), LEGACY_CONTACTS)
async def test_a_plan_stored_with_hours_in_words_still_reads_and_reaches_the_lookup(
    exchanger: Exchanger,
    connection: AsyncConnection,
    stored: tuple[str, str],
    read: dict[str, Any],
    looked_up: tuple[str, str, ContactHours | None, str | None],
) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    await _store_contact_in_words(connection, uuid.UUID(created["id"]), *stored)
    expected = created["police"]["crisis_contact"] | read

    shown = await exchanger.client.get(f"{URL}/{created['id']}", headers=bearer(token))
    assert shown.status_code == 200, shown.text
    assert shown.json()["police"]["crisis_contact"] == expected
    found = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": NHS}, headers=bearer(token)
    )
    assert [plan["police"]["crisis_contact"] for plan in found.json()] == [expected]
    listed = await exchanger.client.get(URL, headers=bearer(token))
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    versions = await exchanger.client.get(f"{URL}/{created['id']}/versions", headers=bearer(token))
    assert versions.status_code == 200, versions.text
    assert versions.json()[0]["content"]["police"]["crisis_contact"] == expected

    row = (
        await connection.execute(
            text("SELECT * FROM crisis_plan WHERE id = :id"), {"id": uuid.UUID(created["id"])}
        )
    ).one()
    record = _as_trust_record(CrisisPlan.model_validate(dict(row._mapping)))
    assert record.plan is not None
    contact = record.plan.crisis_contact
    assert contact is not None
    assert (contact.hours, contact.out_of_hours, contact.schedule, contact.out_of_hours_phone) == (
        looked_up
    )

    # Written again, it takes today's shape; the version records what changed.
    replaced = await put(exchanger.client, token, created["id"], 1, written(crisis_plan_payload()))
    assert replaced.status_code == 200, replaced.text
    history = await exchanger.client.get(f"{URL}/{created['id']}/versions", headers=bearer(token))
    assert history.json()[1]["changed_paths"] == [
        "police.crisis_contact.hours",
        "police.crisis_contact.out_of_hours",
    ]
    assert history.json()[0]["content"]["police"]["crisis_contact"] == expected


async def test_a_plan_stored_with_hours_in_words_can_be_withdrawn(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    await _store_contact_in_words(connection, uuid.UUID(created["id"]), "varies", "Ring 111")
    response = await withdraw(exchanger.client, token, created["id"], 1)
    assert response.status_code == 200, response.text
    assert response.json()["police"]["crisis_contact"]["hours"] == {
        "unknown": True,
        "as_written": "varies",
    }
    versions = await exchanger.client.get(f"{URL}/{created['id']}/versions", headers=bearer(token))
    assert [v["content"]["status"] for v in versions.json()] == ["active", "withdrawn"]


async def _store_contact_in_words(
    connection: AsyncConnection, plan_id: uuid.UUID, hours: str, out_of_hours: str
) -> None:
    """Rewrite the plan and its versions as plans were stored before hours were structured."""
    await connection.execute(text("RESET ROLE"))
    for table, key in (("crisis_plan", "id"), ("crisis_plan_version", "plan_id")):
        await connection.execute(
            text(
                f"UPDATE {table} SET content = jsonb_set(jsonb_set(content,"
                " '{police,crisis_contact,hours}', to_jsonb(CAST(:hours AS text))),"
                " '{police,crisis_contact,out_of_hours}', to_jsonb(CAST(:out_of_hours AS text)))"
                f" WHERE {key} = :id"
            ),
            {"id": plan_id, "hours": hours, "out_of_hours": out_of_hours},
        )


# Listing and search


async def test_listing_pages_through_the_organisations_plans(exchanger: Exchanger) -> None:
    token = await nurse(exchanger)
    created = [
        (
            await create(
                exchanger.client,
                token,
                crisis_plan_payload(nhs_number=nhs_number(300000000 + 10 * n)),
            )
        )
        for n in range(5)
    ]
    await withdraw(exchanger.client, token, created[1]["id"], 1)
    await create(exchanger.client, await nurse(exchanger, "Y05868"))

    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "all", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await exchanger.client.get(URL, params=params, headers=bearer(token))
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    items = [item for page in pages for item in page]
    assert [item["id"] for item in items] == [plan["id"] for plan in reversed(created)]
    newest = items[0]
    assert newest == {
        "id": created[4]["id"],
        "nhs_number": created[4]["nhs_number"],
        "status": "active",
        "revision": 1,
        "review_date": created[4]["review_date"],
        "review_overdue": False,
        "agreed_with_person": True,
        "updated_by": person(token),
        "updated_at": created[4]["updated_at"],
        "withdrawn_at": None,
    }
    active = (await exchanger.client.get(URL, headers=bearer(token))).json()
    assert [i["id"] for i in active["items"]] == [created[n]["id"] for n in (4, 3, 2, 0)]
    withdrawn = (
        await exchanger.client.get(URL, params={"status": "withdrawn"}, headers=bearer(token))
    ).json()
    assert [i["id"] for i in withdrawn["items"]] == [created[1]["id"]]


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"limit": 0}, 422, "validation"),
        ({"limit": 101}, 422, "validation"),
        ({"status": "draft"}, 422, "validation"),
        ({"cursor": "not-a-cursor"}, 400, "invalid-cursor"),
    ],
)
async def test_bad_listing_parameters(
    exchanger: Exchanger, params: dict[str, Any], status: int, slug: str
) -> None:
    token = await nurse(exchanger)
    problem(await exchanger.client.get(URL, params=params, headers=bearer(token)), status, slug)


async def test_search_for_someone_never_recorded_finds_nothing_and_creates_no_one(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await nurse(exchanger)
    stranger = nhs_number(400000000)
    response = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": stranger}, headers=bearer(token)
    )
    assert (response.status_code, response.json()) == (200, [])
    await connection.execute(text("RESET ROLE"))
    people = await connection.scalar(
        text("SELECT count(*) FROM person WHERE nhs_number = :nhs"), {"nhs": stranger}
    )
    assert people == 0
    bad = await exchanger.client.post(
        f"{URL}/_search", json={"nhs_number": "9000000008"}, headers=bearer(token)
    )
    problem(bad, 422, "validation")
    assert "9000000008" not in bad.text
    extra = await exchanger.client.post(
        f"{URL}/_search",
        json={"nhs_number": NHS, "organisation_code": "Y05868"},
        headers=bearer(token),
    )
    problem(extra, 422, "validation")


async def test_no_route_puts_an_nhs_number_in_its_url(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = {path: item for path, item in schema["paths"].items() if path.startswith(URL)}
    assert set(paths) == {
        URL,
        f"{URL}/_search",
        f"{URL}/{{plan_id}}",
        f"{URL}/{{plan_id}}/withdraw",
        f"{URL}/{{plan_id}}/versions",
        f"{URL}/{{plan_id}}/access-history",
    }
    for item in paths.values():
        for operation in item.values():
            names = {
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] in {"path", "query"}
            }
            assert names <= {"plan_id", "status", "cursor", "limit"}
            assert operation["summary"]
            assert operation["description"]


# Audit


async def test_every_route_writes_an_audit_event_without_identifiers(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    token = await nurse(exchanger)
    created = await create(exchanger.client, token)
    plan_id = created["id"]
    plan_url = f"{URL}/{plan_id}"
    await exchanger.client.get(plan_url, headers=bearer(token))
    await put(exchanger.client, token, plan_id, 1, written(changed_phone(crisis_plan_payload())))
    await exchanger.client.get(f"{plan_url}/versions", headers=bearer(token))
    await exchanger.client.get(f"{plan_url}/access-history", headers=bearer(token))
    await withdraw(exchanger.client, token, plan_id, 2)
    await exchanger.client.get(URL, params={"status": "all"}, headers=bearer(token))
    await exchanger.client.post(f"{URL}/_search", json={"nhs_number": NHS}, headers=bearer(token))
    # A refused write leaves no success event behind.
    await put(exchanger.client, token, plan_id, 3, written(crisis_plan_payload()))

    events = await events_with(connection, "crisis_plan.", "plan_id", plan_id)
    assert [(action, role) for action, role, _ in events] == [
        ("crisis_plan.create", "mh_practitioner"),
        ("crisis_plan.read", "mh_practitioner"),
        ("crisis_plan.update", "mh_practitioner"),
        ("crisis_plan.history", "mh_practitioner"),
        ("crisis_plan.access_history", "mh_practitioner"),
        ("crisis_plan.withdraw", "mh_practitioner"),
    ]
    assert [details["revision"] for _, _, details in events] == [1, 1, 2, 2, 2, 3]
    assert events[2][2]["changed_paths"] == ["police.crisis_contact.phone"]
    # Each names the person the plan is about, in its own column.
    person_ids = (
        await connection.execute(
            text(
                "SELECT DISTINCT person_id FROM audit_event"
                " WHERE action LIKE 'crisis_plan.%' AND details ->> 'plan_id' = :plan"
            ),
            {"plan": plan_id},
        )
    ).scalars()
    [person_id] = list(person_ids)
    assert person_id is not None

    listing = await events_with(connection, "crisis_plan.read", "listing", "all")
    assert [details["plan_ids"] for _, _, details in listing] == [[plan_id]]
    search = (
        await connection.execute(
            text(
                "SELECT details FROM audit_event WHERE action = 'crisis_plan.read'"
                " AND person_id = :person AND details ? 'search'"
            ),
            {"person": person_id},
        )
    ).scalars()
    assert [details["plan_ids"] for details in search] == [[]]

    rows = (
        await connection.execute(
            text(
                "SELECT details::text, actor_organisation_code, purpose, incident_id"
                " FROM audit_event WHERE action LIKE 'crisis_plan.%'"
            )
        )
    ).all()
    assert len(rows) == 8
    for details, org, purpose, incident_id in rows:
        assert NHS not in details
        assert "Alan" not in details
        assert (org, purpose, incident_id) == ("RQI", "crisis-planning", None)


# Access history


async def test_access_history_shows_the_last_25_lookups_newest_first(exchanger: Exchanger) -> None:
    rqi = await nurse(exchanger)
    plan = await create(exchanger.client, rqi)
    someone_else = await create(exchanger.client, rqi, crisis_plan_payload(nhs_number="9000000025"))
    history_url = f"{URL}/{plan['id']}/access-history"
    assert (await exchanger.client.get(history_url, headers=bearer(rqi))).json() == []

    async def scene(cad: str, trust: str) -> uuid.UUID:
        opener = await exchanger.token("officer", "NSP", "street-triage")
        response = await exchanger.client.post(
            "/v1/incidents",
            json=incident_payload(cad_reference=cad, partner_trust_code=trust),
            headers=bearer(opener),
        )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])

    async def look_up(incident_id: uuid.UUID, token: str) -> None:
        response = await exchanger.client.post(
            f"/v1/incidents/{incident_id}/flag-lookups",
            json={"nhs_number": NHS},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text

    oldest = await scene("LP-20261121-0001", "RQI")
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=oldest)
    await look_up(oldest, officer)
    busy = await scene("LP-20261121-0002", "RQI")
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=busy)
    for _ in range(24):
        await look_up(busy, officer)
    # The newest: another trust's practitioner breaking the glass.
    glass_scene = await scene("LP-20261121-0003", "Y05868")
    glass = await exchanger.token(
        "mh_practitioner",
        "Y05868",
        "break-glass",
        incident_id=glass_scene,
        justification="Person on the railway bridge; plan held by Northshire trust",
    )
    await look_up(glass_scene, glass)

    response = await exchanger.client.get(history_url, headers=bearer(rqi))
    assert response.status_code == 200
    history = response.json()
    assert len(history) == 25
    assert history[0] == {
        "accessed_at": history[0]["accessed_at"],
        "actor": {
            "name": "Test mh_practitioner of Y05868",
            "role": "mh_practitioner",
            "organisation_code": "Y05868",
            "organisation_name": "Avonmere Mental Health Partnership NHS Trust",
        },
        "cad_reference": "LP-20261121-0003",
        "purpose": "break-glass",
        "break_glass": True,
    }
    assert {(h["cad_reference"], h["actor"]["role"], h["break_glass"]) for h in history[1:]} == {
        ("LP-20261121-0002", "officer", False)
    }
    assert all(h["purpose"] == "street-triage" for h in history[1:])
    accessed = [at(h["accessed_at"]) for h in history]
    assert accessed == sorted(accessed, reverse=True)
    assert "LP-20261121-0001" not in response.text  # the 26th access is past the last 25
    assert NHS not in response.text

    # The history is the person's: no one looked anyone else up.
    other = await exchanger.client.get(
        f"{URL}/{someone_else['id']}/access-history", headers=bearer(rqi)
    )
    assert other.json() == []


# The database's second lock


async def _as_tenant(connection: AsyncConnection, org: str) -> None:
    await connection.execute(text(f"SET LOCAL ROLE {APPLICATION_ROLE}"))
    await connection.execute(text("SELECT set_config('app.org', :org, true)"), {"org": org})


async def test_database_lets_other_tenants_read_only_inside_a_lookup_and_only_the_custodian_write(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    created = await create(exchanger.client, await nurse(exchanger))
    plan_id = uuid.UUID(created["id"])
    await connection.execute(text("RESET ROLE"))
    person_id, author_id = (
        await connection.execute(
            text("SELECT person_id, created_by FROM crisis_plan WHERE id = :id"), {"id": plan_id}
        )
    ).one()

    async def seen(table: str, column: str) -> int:
        found = await connection.scalar(
            text(f"SELECT count(*) FROM {table} WHERE {column} = :id"),
            {"id": plan_id},
        )
        return int(found or 0)

    # Another tenant reads the plan only while the transaction says it is a lookup, and never
    # its versions (the lookup does not read them).
    await _as_tenant(connection, "NSP")
    assert (await seen("crisis_plan", "id"), await seen("crisis_plan_version", "plan_id")) == (0, 0)
    await connection.execute(text("SELECT set_config('app.lookup', 'on', true)"))
    assert (await seen("crisis_plan", "id"), await seen("crisis_plan_version", "plan_id")) == (1, 0)
    await connection.execute(text("SELECT set_config('app.lookup', '', true)"))
    assert await seen("crisis_plan", "id") == 0
    await _as_tenant(connection, "RQI")
    assert (await seen("crisis_plan", "id"), await seen("crisis_plan_version", "plan_id")) == (1, 1)

    await _as_tenant(connection, "Y05868")
    changed = await connection.execute(
        text("UPDATE crisis_plan SET revision = 99 WHERE id = :id"), {"id": plan_id}
    )
    assert changed.rowcount == 0
    for statement, parameters in (
        (
            "INSERT INTO crisis_plan_version (id, plan_id, revision, kind, content, changed_paths,"
            " author_user_id, author_name, author_role, author_organisation_code, changed_at)"
            " VALUES (:id, :plan, 2, 'updated', '{}', '[]', :author, 'n', 'mh_practitioner',"
            " 'Y05868', now())",
            {"id": uuid.uuid4(), "plan": plan_id, "author": author_id},
        ),
        (
            "INSERT INTO crisis_plan (id, person_id, organisation_code, status, revision, content,"
            " review_date, agreed_with_person, created_by, created_by_name, updated_by,"
            " updated_by_name, created_at, updated_at, withdrawn_at, withdrawn_reason)"
            " VALUES (:id, :person, 'RQI', 'withdrawn', 1, '{}', now(), true, :author, 'n',"
            " :author, 'n', now(), now(), now(), 'r')",
            {"id": uuid.uuid4(), "person": person_id, "author": author_id},
        ),
    ):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(text(statement), parameters)
        await nested.rollback()

    await _as_tenant(connection, "RQI")
    for statement in (
        "DELETE FROM crisis_plan_version",
        "UPDATE crisis_plan_version SET reason = 'x'",
        "DELETE FROM crisis_plan",
    ):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))
        await nested.rollback()
    await connection.execute(text("RESET ROLE"))
