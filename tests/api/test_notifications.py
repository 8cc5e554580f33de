"""The CP-IS rule, end to end: real lookups notify the custodian, who alone lists and marks them."""

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.settings import Settings
from models import APPLICATION_ROLE
from tests import lookups
from tests.conftest import Exchanger, bearer
from tests.factories import CAD_REFERENCE
from tests.lookups import look_up, scene, with_faked_partners
from tests.partners import NRL_POINTERS
from tests.problems import problem

KNOWN_TO_RQI = "9000000009"
KNOWN_TO_Y05868 = "9000000025"
KNOWN_TO_NO_ONE = "9000000033"
ITEM_KEYS = {
    "id",
    "created_at",
    "read_at",
    "state",
    "access_kind",
    "break_glass",
    "actor",
    "cad_reference",
    "purpose",
    "person",
}
JUSTIFICATION = "Person on the railway bridge; plan held by Northshire trust"

partners = lookups.partners
partner_transport = lookups.partner_transport


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_faked_partners(settings, tmp_path)


async def looked_up(exchanger: Exchanger, incident_id: uuid.UUID, nhs_number: str) -> None:
    """An officer's street-triage lookup, which must succeed."""
    response = await look_up(exchanger, incident_id, {"nhs_number": nhs_number})
    assert response.status_code == 200, response.text


async def nurse(exchanger: Exchanger, org: str = "RQI") -> dict[str, str]:
    return bearer(await exchanger.token("mh_practitioner", org, "crisis-planning"))


async def listing(exchanger: Exchanger, org: str = "RQI", **params: Any) -> dict[str, Any]:
    response = await exchanger.client.get(
        "/v1/notifications", params=params, headers=await nurse(exchanger, org)
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def mark(exchanger: Exchanger, notification_id: str, org: str = "RQI") -> httpx.Response:
    return await exchanger.client.post(
        f"/v1/notifications/{notification_id}/read", headers=await nurse(exchanger, org)
    )


async def events_of(connection: AsyncConnection, response: httpx.Response) -> list[Any]:
    """The audit events the request wrote: (action, actor role, incident id, details)."""
    await connection.execute(text("RESET ROLE"))
    rows = await connection.execute(
        text(
            "SELECT action, actor_role, actor_organisation_code, incident_id, details"
            " FROM audit_event WHERE request_id = :r ORDER BY occurred_at"
        ),
        {"r": response.headers["x-request-id"]},
    )
    return list(rows)


async def subject_of(connection: AsyncConnection, response: httpx.Response) -> Any:
    """The person the request's one audit event is about."""
    return await connection.scalar(
        text("SELECT person_id FROM audit_event WHERE request_id = :r"),
        {"r": response.headers["x-request-id"]},
    )


async def test_each_lookup_notifies_its_custodian_with_exact_fields(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    await looked_up(exchanger, incident_id, KNOWN_TO_NO_ONE)  # no custodian, no notification

    page = await listing(exchanger, "RQI")
    assert page["unread"] == 1
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert set(item) == ITEM_KEYS
    uuid.UUID(item["id"])
    assert item["read_at"] is None
    assert (item["state"], item["access_kind"], item["break_glass"]) == ("unread", "lookup", False)
    assert item["actor"] == {
        "name": "Test officer of NSP",
        "role": "officer",
        "organisation_code": "NSP",
        "organisation_name": "Northshire Police",
    }
    assert (item["cad_reference"], item["purpose"]) == (CAD_REFERENCE, "street-triage")
    assert item["person"] == {"nhs_number": KNOWN_TO_RQI}

    # The other trust holds no plan for this person, so it was told nothing.
    other = await listing(exchanger, "Y05868")
    assert (other["items"], other["unread"], other["next_cursor"]) == ([], 0, None)


async def test_one_notification_per_custodian_each_seen_only_by_its_own(
    exchanger: Exchanger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both trusts hold a plan: RQI in its own record and NRL; Y05868 through an NRL pointer.
    monkeypatch.setitem(NRL_POINTERS, KNOWN_TO_RQI, ["RQI", "Y05868"])
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    await looked_up(exchanger, incident_id, KNOWN_TO_Y05868)

    rqi = await listing(exchanger, "RQI")
    y05868 = await listing(exchanger, "Y05868")
    assert [item["person"]["nhs_number"] for item in rqi["items"]] == [KNOWN_TO_RQI]
    assert [item["person"]["nhs_number"] for item in y05868["items"]] == [
        KNOWN_TO_Y05868,
        KNOWN_TO_RQI,
    ]
    assert (rqi["unread"], y05868["unread"]) == (1, 2)
    assert not {item["id"] for item in rqi["items"]} & {item["id"] for item in y05868["items"]}


async def test_break_glass_access_stands_out(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger, trust="Y05868")
    plain = await look_up(
        exchanger, incident_id, {"nhs_number": KNOWN_TO_RQI}, "mh_practitioner", "Y05868"
    )
    assert plain.status_code == 200, plain.text
    glass = await look_up(
        exchanger,
        incident_id,
        {"nhs_number": KNOWN_TO_RQI},
        "mh_practitioner",
        "Y05868",
        purpose="break-glass",
        justification=JUSTIFICATION,
    )
    assert glass.status_code == 200, glass.text

    newest, older = (await listing(exchanger, "RQI"))["items"]
    actor = {
        "name": "Test mh_practitioner of Y05868",
        "role": "mh_practitioner",
        "organisation_code": "Y05868",
        "organisation_name": "Avonmere Mental Health Partnership NHS Trust",
    }
    assert (newest["access_kind"], newest["break_glass"], newest["purpose"]) == (
        "break_glass",
        True,
        "break-glass",
    )
    assert (older["access_kind"], older["break_glass"], older["purpose"]) == (
        "lookup",
        False,
        "street-triage",
    )
    assert newest["actor"] == older["actor"] == actor
    assert newest["created_at"] > older["created_at"]


async def test_only_practitioners_planning_crises_may_read_notifications(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    [item] = (await listing(exchanger, "RQI"))["items"]
    refused = [
        await exchanger.token("officer", "NSP", "street-triage"),
        # A nurse of the custodian trust, but at the scene: the purpose carries no notification scope.
        await exchanger.token("mh_practitioner", "RQI", "street-triage", incident_id=incident_id),
        await exchanger.token("supervisor", "RQI", "supervision"),
    ]
    for token in refused:
        listed = await exchanger.client.get("/v1/notifications", headers=bearer(token))
        problem(listed, 403, "forbidden")
        marked = await exchanger.client.post(
            f"/v1/notifications/{item['id']}/read", headers=bearer(token)
        )
        problem(marked, 403, "forbidden")
    problem(await exchanger.client.get("/v1/notifications"), 401, "unauthenticated")
    assert (await listing(exchanger, "RQI"))["items"][0]["state"] == "unread"


async def test_state_filter_and_unread_count(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    for _ in range(3):
        await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    everything = await listing(exchanger, "RQI")
    assert [item["state"] for item in everything["items"]] == ["unread"] * 3
    assert everything["unread"] == 3
    chosen = everything["items"][1]["id"]
    assert (await mark(exchanger, chosen)).status_code == 200

    unread = await listing(exchanger, "RQI", state="unread")
    read = await listing(exchanger, "RQI", state="read")
    every = await listing(exchanger, "RQI", state="all")
    assert [item["id"] for item in read["items"]] == [chosen]
    assert read["items"][0]["state"] == "read"
    assert [item["id"] for item in unread["items"]] == [
        everything["items"][0]["id"],
        everything["items"][2]["id"],
    ]
    assert [item["id"] for item in every["items"]] == [item["id"] for item in everything["items"]]
    # The count is the organisation's unread, whatever the filter.
    assert unread["unread"] == read["unread"] == every["unread"] == 2


async def test_marking_read_is_idempotent(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    [item] = (await listing(exchanger, "RQI"))["items"]

    first = await mark(exchanger, item["id"])
    assert first.status_code == 200, first.text
    marked = first.json()
    assert marked["state"] == "read"
    assert marked["read_at"] is not None
    assert {k: v for k, v in marked.items() if k not in ("state", "read_at")} == {
        k: v for k, v in item.items() if k not in ("state", "read_at")
    }

    again = await mark(exchanger, item["id"])
    assert again.status_code == 200, again.text
    assert again.json() == marked  # the first read_at stands
    assert (await listing(exchanger, "RQI"))["unread"] == 0


async def test_another_organisations_or_an_unknown_notification_is_404(
    exchanger: Exchanger,
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    [item] = (await listing(exchanger, "RQI"))["items"]

    foreign = await mark(exchanger, item["id"], org="Y05868")
    unknown = await mark(exchanger, str(uuid.uuid4()), org="Y05868")
    body = problem(foreign, 404, "notification-not-found")
    assert body == {
        **problem(unknown, 404, "notification-not-found"),
        "request_id": body["request_id"],
    }
    assert item["id"] not in foreign.text

    still = (await listing(exchanger, "RQI"))["items"][0]
    assert (still["state"], still["read_at"]) == ("unread", None)


async def test_rows_of_another_organisation_are_hidden_by_the_database_too(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)

    async def as_tenant(org: str, statement: str) -> Any:
        await connection.execute(
            text("SELECT set_config('role', :role, true), set_config('app.org', :org, true)"),
            {"role": APPLICATION_ROLE, "org": org},
        )
        result = await connection.execute(text(statement), {"id": incident_id})
        await connection.execute(text("RESET ROLE"))
        return result

    count = "SELECT count(*) FROM access_notification WHERE incident_id = :id"
    assert (await as_tenant("RQI", count)).scalar_one() == 1
    assert (await as_tenant("Y05868", count)).scalar_one() == 0
    mark_all = "UPDATE access_notification SET read_at = now() WHERE incident_id = :id"
    assert (await as_tenant("Y05868", mark_all)).rowcount == 0
    assert (await listing(exchanger, "RQI"))["items"][0]["state"] == "unread"


async def test_pages_cover_every_notification_once_newest_first(exchanger: Exchanger) -> None:
    incident_id = await scene(exchanger)
    for _ in range(7):
        await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    everything = await listing(exchanger, "RQI", limit=100)
    assert len(everything["items"]) == 7
    assert everything["next_cursor"] is None

    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = await listing(exchanger, "RQI", **params)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    seen = [item["id"] for page in pages for item in page]
    assert seen == [item["id"] for item in everything["items"]]
    assert len(set(seen)) == 7
    created = [item["created_at"] for page in pages for item in page]
    assert created == sorted(created, reverse=True)

    # Filtered pages carry the filter through.
    first = await listing(exchanger, "RQI", state="unread", limit=4)
    rest = await listing(exchanger, "RQI", state="unread", limit=4, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"] + rest["items"]] == seen
    assert rest["next_cursor"] is None


def encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


ZERO_UUID = str(uuid.UUID(int=0))


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "é",
        encoded([]),
        encoded({"a": 1}),
        encoded([1, 2]),
        encoded(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
        encoded(["yesterday", ZERO_UUID]),
        encoded(["2026-01-01T00:00:00", ZERO_UUID]),  # no time zone
        encoded(["2026-01-01T00:00:00+00:00", ZERO_UUID, "extra"]),
    ],
)
async def test_a_cursor_we_did_not_give_out_is_400(exchanger: Exchanger, cursor: str) -> None:
    response = await exchanger.client.get(
        "/v1/notifications", params={"cursor": cursor}, headers=await nurse(exchanger)
    )
    body = problem(response, 400, "invalid-cursor")
    assert cursor not in body["detail"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"state": "new"}])
async def test_out_of_range_parameters_are_422(
    exchanger: Exchanger, params: dict[str, Any]
) -> None:
    response = await exchanger.client.get(
        "/v1/notifications", params=params, headers=await nurse(exchanger)
    )
    problem(response, 422, "validation")


async def test_listing_and_marking_are_audited_without_nhs_numbers(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    await connection.execute(text("RESET ROLE"))
    person_id = await connection.scalar(
        text("SELECT id FROM person WHERE nhs_number = :n"), {"n": KNOWN_TO_RQI}
    )

    headers = await nurse(exchanger)
    listed = await exchanger.client.get("/v1/notifications", headers=headers)
    ids = [item["id"] for item in listed.json()["items"]]
    marked = await exchanger.client.post(f"/v1/notifications/{ids[0]}/read", headers=headers)
    again = await exchanger.client.post(f"/v1/notifications/{ids[0]}/read", headers=headers)
    empty = await exchanger.client.get(
        "/v1/notifications", headers=await nurse(exchanger, "Y05868")
    )

    [(action, role, org, incident, details)] = await events_of(connection, listed)
    assert (action, role, org, incident) == ("notification.list", "mh_practitioner", "RQI", None)
    # The one person the notifications are about is the event's subject, in its own column.
    assert details == {"state": "all", "notification_ids": ids}
    assert await subject_of(connection, listed) == person_id
    [(action, _, _, _, details)] = await events_of(connection, marked)
    assert action == "notification.read"
    assert details == {"notification_ids": [ids[0]], "newly_read": True}
    assert await subject_of(connection, marked) == person_id
    [(_, _, _, _, details)] = await events_of(connection, again)
    assert details["newly_read"] is False
    # Even a listing that showed nothing leaves its trace.
    [(action, _, org, _, details)] = await events_of(connection, empty)
    assert (action, org, details["notification_ids"]) == ("notification.list", "Y05868", [])

    await connection.execute(text("RESET ROLE"))
    leaked = await connection.scalar(
        text(
            "SELECT count(*) FROM audit_event"
            " WHERE action LIKE 'notification.%' AND details::text LIKE :n"
        ),
        {"n": f"%{KNOWN_TO_RQI}%"},
    )
    assert leaked == 0


async def test_a_refused_mark_is_not_recorded_as_a_read(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    incident_id = await scene(exchanger)
    await looked_up(exchanger, incident_id, KNOWN_TO_RQI)
    [item] = (await listing(exchanger, "RQI"))["items"]
    foreign = await mark(exchanger, item["id"], org="Y05868")
    assert foreign.status_code == 404
    assert await events_of(connection, foreign) == []
