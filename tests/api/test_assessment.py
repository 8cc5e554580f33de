"""The joint assessment: draft, If-Match, two signatures that lock it, amendments, history, audit."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import col, select

from api.settings import async_database_url
from models import AuditEvent
from tests.audit_trail import incident_events
from tests.conftest import Committing, Exchanger, bearer
from tests.factories import assessment_content, incident_payload, outcome_payload
from tests.problems import problem, user_id

OFFICER_NAME = "Test officer of NSP"
NURSE_NAME = "Test mh_practitioner of RQI"
REASON = "Practitioner corrected the intoxication after a breath test."


@dataclass
class Scene:
    """An open incident with a described subject, and the two contributors' bound tokens."""

    client: httpx.AsyncClient
    incident_id: uuid.UUID
    subject_id: uuid.UUID
    officer: str
    nurse: str

    @property
    def incident_url(self) -> str:
        return f"/v1/incidents/{self.incident_id}"

    @property
    def url(self) -> str:
        return f"{self.incident_url}/subjects/{self.subject_id}/assessment"

    def url_for(self, subject_id: uuid.UUID) -> str:
        return f"{self.incident_url}/subjects/{subject_id}/assessment"

    async def start(
        self, token: str | None = None, subject_id: uuid.UUID | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"content": assessment_content()} | body
        url = self.url_for(subject_id) if subject_id else self.url
        return await self.client.post(url, json=payload, headers=bearer(token or self.officer))

    async def put(
        self,
        token: str,
        if_match: str | None,
        content: dict[str, Any],
        reason: str | None = None,
        subject_id: uuid.UUID | None = None,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"content": content}
        if reason is not None:
            payload["amendment_reason"] = reason
        headers = bearer(token)
        if if_match is not None:
            headers["If-Match"] = if_match
        url = self.url_for(subject_id) if subject_id else self.url
        return await self.client.put(url, json=payload, headers=headers)

    async def sign(
        self, token: str, if_match: str | None, subject_id: uuid.UUID | None = None
    ) -> httpx.Response:
        headers = bearer(token)
        if if_match is not None:
            headers["If-Match"] = if_match
        url = self.url_for(subject_id) if subject_id else self.url
        return await self.client.post(f"{url}/signatures", headers=headers)

    async def add_subject(self, body: dict[str, Any]) -> uuid.UUID:
        response = await self.client.post(
            f"{self.incident_url}/subjects", json=body, headers=bearer(self.officer)
        )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])

    async def lock(self, subject_id: uuid.UUID | None = None, revision: int = 1) -> None:
        """Both contributors sign the given revision."""
        tag = f'"{revision}"'
        first = await self.sign(self.officer, tag, subject_id)
        assert first.status_code == 200, first.text
        second = await self.sign(self.nurse, tag, subject_id)
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "locked"

    async def close(self) -> None:
        recorded = await self.client.put(
            f"{self.incident_url}/outcome", json=outcome_payload(), headers=bearer(self.officer)
        )
        assert recorded.status_code == 201, recorded.text
        closed = await self.client.post(f"{self.incident_url}/close", headers=bearer(self.officer))
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"


async def open_incident(exchanger: Exchanger) -> uuid.UUID:
    token = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def bound_tokens(exchanger: Exchanger, incident_id: uuid.UUID) -> tuple[str, str]:
    officer = await exchanger.token("officer", "NSP", "street-triage", incident_id=incident_id)
    nurse = await exchanger.token(
        "mh_practitioner", "RQI", "street-triage", incident_id=incident_id
    )
    return officer, nurse


async def make_scene(exchanger: Exchanger) -> Scene:
    incident_id = await open_incident(exchanger)
    officer, nurse = await bound_tokens(exchanger, incident_id)
    scene = Scene(exchanger.client, incident_id, uuid.uuid4(), officer, nurse)
    scene.subject_id = await scene.add_subject({"description": "Man in his thirties, grey coat"})
    return scene


def as_read(content: dict[str, Any]) -> dict[str, Any]:
    """The content as the API returns it: every optional field present, null when not given."""
    read = {"physical_health_concerns": None, "legal_basis_without_consent": None} | content
    for risk in ("risk_to_self", "risk_to_others", "risk_from_others"):
        read[risk] = {"rationale": None} | read[risk]
    read["mental_capacity"] = {"outcome": None, "notes": None} | read["mental_capacity"]
    return read


def locations(body: dict[str, Any]) -> list[str]:
    return [param["location"] for param in body["invalid_params"]]


def signer(token: str, name: str, role: str, org: str) -> dict[str, str]:
    return {"user_id": user_id(token), "name": name, "role": role, "organisation_code": org}


async def assessment_events(
    connection: AsyncConnection, incident_id: uuid.UUID
) -> list[tuple[str, str | None, dict[str, Any]]]:
    return await incident_events(connection, incident_id, "assessment.")


# Starting and reading


async def test_start_creates_a_draft_at_revision_one(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    started = await scene.start()
    assert started.status_code == 201, started.text
    assert started.headers["etag"] == '"1"'
    body = started.json()
    assert uuid.UUID(body["id"])
    assert body["incident_id"] == str(scene.incident_id)
    assert body["subject_id"] == str(scene.subject_id)
    assert body["revision"] == 1
    assert body["status"] == "draft"
    assert body["content"] == as_read(assessment_content())
    assert body["signatures"] == []
    assert body["contributors"] == [signer(scene.officer, OFFICER_NAME, "officer", "NSP")]
    assert body["locked_at"] is None

    # The practitioner reads what the officer wrote, with the ETag to send back.
    read = await scene.client.get(scene.url, headers=bearer(scene.nurse))
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == body


async def test_a_subject_has_one_assessment(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    again = await scene.start(scene.nurse)
    body = problem(again, 409, "assessment-exists")
    assert body["detail"] == "This subject's assessment exists; change it with PUT and If-Match."
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.json()["contributors"] == [signer(scene.officer, OFFICER_NAME, "officer", "NSP")]


async def test_unknown_subject_and_missing_assessment_are_404(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    problem(
        await scene.client.get(scene.url, headers=bearer(scene.officer)),
        404,
        "assessment-not-found",
    )
    stranger = uuid.uuid4()
    problem(await scene.start(subject_id=stranger), 404, "subject-not-found")
    problem(
        await scene.client.get(scene.url_for(stranger), headers=bearer(scene.officer)),
        404,
        "subject-not-found",
    )
    problem(await scene.sign(scene.officer, '"1"'), 404, "assessment-not-found")


async def test_supervisor_never_sees_clinical_content(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    for url in (scene.url, f"{scene.url}/revisions"):
        refused = await scene.client.get(url, headers=bearer(supervisor))
        body = problem(refused, 403, "forbidden")
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="street-triage", error="insufficient_scope", scope="incident:read"'
        )
        assert "presenting_situation" not in refused.text
        assert "railway bridge" not in body["detail"]


async def test_token_bound_to_another_incident_cannot_reach_it(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    other_incident = await open_incident(exchanger)
    other, _ = await bound_tokens(exchanger, other_incident)
    problem(await scene.client.get(scene.url, headers=bearer(other)), 403, "forbidden")
    problem(await scene.put(other, '"1"', assessment_content()), 403, "forbidden")


# Changing a draft: If-Match


async def test_put_needs_the_current_etag(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    changed = assessment_content(intoxication="alcohol_and_drugs")

    missing = await scene.put(scene.nurse, None, changed)
    body = problem(missing, 428, "precondition-required")
    assert body["detail"] == "Send If-Match with the ETag of the version you are changing."
    assert "etag" not in missing.headers

    for stale in ('"0"', '"2"', "1"):
        refused = await scene.put(scene.nurse, stale, changed)
        problem(refused, 412, "precondition-failed")
        assert refused.headers["etag"] == '"1"', stale

    updated = await scene.put(scene.nurse, '"1"', changed)
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    body = updated.json()
    assert body["revision"] == 2
    assert body["status"] == "draft"
    assert body["content"]["intoxication"] == "alcohol_and_drugs"
    assert body["contributors"] == [
        signer(scene.officer, OFFICER_NAME, "officer", "NSP"),
        signer(scene.nurse, NURSE_NAME, "mh_practitioner", "RQI"),
    ]

    history = await scene.client.get(f"{scene.url}/revisions", headers=bearer(scene.officer))
    assert [(r["revision"], r["kind"]) for r in history.json()] == [(1, "created"), (2, "updated")]


async def test_if_match_may_list_several_tags(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    listed = await scene.put(scene.officer, '"7", "1"', assessment_content())
    assert listed.status_code == 200, listed.text
    assert listed.headers["etag"] == '"2"'
    problem(
        await scene.put(scene.officer, '"1", "3"', assessment_content()), 412, "precondition-failed"
    )


async def test_amendment_reason_is_refused_on_a_draft(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    started = await scene.start(amendment_reason=REASON)
    body = problem(started, 422, "validation")
    assert body["detail"] == "amendment_reason is given only when amending a locked assessment."
    assert (await scene.start()).status_code == 201
    changed = await scene.put(scene.officer, '"1"', assessment_content(), reason=REASON)
    body = problem(changed, 422, "validation")
    assert body["detail"] == "amendment_reason is given only when amending a locked assessment."
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.json()["revision"] == 1


# Signing and locking


async def test_signing_needs_the_current_etag(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    problem(await scene.sign(scene.officer, None), 428, "precondition-required")
    stale = await scene.sign(scene.officer, '"2"')
    problem(stale, 412, "precondition-failed")
    assert stale.headers["etag"] == '"1"'
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.json()["signatures"] == []


async def test_both_signatures_lock_the_assessment(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201

    first = await scene.sign(scene.officer, '"1"')
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"1"'
    body = first.json()
    assert (body["status"], body["revision"], body["locked_at"]) == ("draft", 1, None)
    assert [(s["role"], s["revision"], s["signer"]) for s in body["signatures"]] == [
        ("officer", 1, signer(scene.officer, OFFICER_NAME, "officer", "NSP"))
    ]

    twice = await scene.sign(scene.officer, '"1"')
    body = problem(twice, 409, "already-signed")
    assert body["detail"] == "This revision already carries a signature for your role."

    second = await scene.sign(scene.nurse, '"1"')
    assert second.status_code == 200, second.text
    assert second.headers["etag"] == '"1"'
    body = second.json()
    assert body["status"] == "locked"
    assert body["revision"] == 1
    locked_at = datetime.fromisoformat(body["locked_at"])
    assert locked_at.tzinfo is not None
    assert [(s["role"], s["revision"], s["signer"]) for s in body["signatures"]] == [
        ("officer", 1, signer(scene.officer, OFFICER_NAME, "officer", "NSP")),
        ("mh_practitioner", 1, signer(scene.nurse, NURSE_NAME, "mh_practitioner", "RQI")),
    ]
    assert datetime.fromisoformat(body["signatures"][1]["signed_at"]) == locked_at
    assert body["contributors"] == [
        signer(scene.officer, OFFICER_NAME, "officer", "NSP"),
        signer(scene.nurse, NURSE_NAME, "mh_practitioner", "RQI"),
    ]

    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.status_code == 200
    assert read.json() == body

    # Locked: no more signatures, from either contributor.
    for token in (scene.officer, scene.nurse):
        again = await scene.sign(token, '"1"')
        body = problem(again, 409, "already-signed")
        assert body["detail"] == "The assessment is already signed by both contributors."


async def test_same_role_from_another_user_cannot_sign_twice(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    assert (await scene.sign(scene.officer, '"1"')).status_code == 200
    colleague = await exchanger.token(
        "officer",
        "NSP",
        "street-triage",
        incident_id=scene.incident_id,
        subject_token=exchanger.idp.token("officer", "NSP", sub="officer-nsp-2", name="PC Two"),
    )
    assert user_id(colleague) != user_id(scene.officer)
    problem(await scene.sign(colleague, '"1"'), 409, "already-signed")


async def test_supervisor_cannot_sign(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    supervisor = await exchanger.token("supervisor", "NSP", "supervision")
    refused = await scene.sign(supervisor, '"1"')
    problem(refused, 403, "forbidden")
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="street-triage", error="insufficient_scope", scope="incident:write"'
    )
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.json()["signatures"] == []


async def test_a_change_after_one_signature_needs_both_again(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    assert (await scene.sign(scene.officer, '"1"')).status_code == 200
    changed = await scene.put(scene.nurse, '"1"', assessment_content(intoxication="unknown"))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["revision"], changed.json()["signatures"]) == (2, [])

    # The practitioner's signature on revision 2 does not complete the officer's on revision 1.
    problem(await scene.sign(scene.nurse, '"1"'), 412, "precondition-failed")
    nurse = await scene.sign(scene.nurse, '"2"')
    assert nurse.status_code == 200, nurse.text
    assert nurse.json()["status"] == "draft"
    assert [s["role"] for s in nurse.json()["signatures"]] == ["mh_practitioner"]

    officer = await scene.sign(scene.officer, '"2"')
    assert officer.status_code == 200, officer.text
    body = officer.json()
    assert body["status"] == "locked"
    assert [(s["role"], s["revision"]) for s in body["signatures"]] == [
        ("mh_practitioner", 2),
        ("officer", 2),
    ]
    assert body["content"]["intoxication"] == "unknown"


async def test_retried_start_and_signature_are_replayed(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    key = {"Idempotency-Key": "tablet-7-assess-1"}
    payload = {"content": assessment_content()}
    first = await scene.client.post(scene.url, json=payload, headers=bearer(scene.officer) | key)
    again = await scene.client.post(scene.url, json=payload, headers=bearer(scene.officer) | key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["etag"] == '"1"'
    assert again.headers["idempotent-replayed"] == "true"

    sign_key = bearer(scene.nurse) | {"If-Match": '"1"', "Idempotency-Key": "tablet-9-sign-1"}
    signed = await scene.client.post(f"{scene.url}/signatures", headers=sign_key)
    retried = await scene.client.post(f"{scene.url}/signatures", headers=sign_key)
    assert (signed.status_code, retried.status_code) == (200, 200)
    assert retried.json() == signed.json()
    assert retried.headers["idempotent-replayed"] == "true"
    # Without the key, the same signature again is a conflict.
    problem(await scene.sign(scene.nurse, '"1"'), 409, "already-signed")
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert [s["role"] for s in read.json()["signatures"]] == ["mh_practitioner"]


# Amending a locked assessment


async def test_locked_assessment_is_amended_only_with_a_reason(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    await scene.lock()
    locked = (await scene.client.get(scene.url, headers=bearer(scene.officer))).json()
    amended_content = assessment_content(intoxication="alcohol_and_drugs")

    without = await scene.put(scene.nurse, '"1"', amended_content)
    body = problem(without, 422, "validation")
    assert body["detail"] == "amendment_reason is required: the assessment is signed and locked."

    short = await scene.put(scene.nurse, '"1"', amended_content, reason="typo")
    body = problem(short, 422, "validation")
    assert locations(body) == ["body.amendment_reason"]
    assert body["invalid_params"][0]["code"] == "string_too_short"

    stale = await scene.put(scene.nurse, '"2"', amended_content, reason=REASON)
    problem(stale, 412, "precondition-failed")

    amended = await scene.put(scene.nurse, '"1"', amended_content, reason=REASON)
    assert amended.status_code == 200, amended.text
    assert amended.headers["etag"] == '"2"'
    body = amended.json()
    assert body["revision"] == 2
    assert body["status"] == "locked"
    assert body["locked_at"] == locked["locked_at"]
    assert body["content"]["intoxication"] == "alcohol_and_drugs"
    # The signatures shown are those that locked it, on revision 1.
    assert body["signatures"] == locked["signatures"]

    # An amendment is not signed again.
    problem(await scene.sign(scene.officer, '"2"'), 409, "already-signed")


async def test_history_lists_every_revision_with_author_and_reason(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    first = assessment_content()
    second = assessment_content(intoxication="none")
    third = assessment_content(
        consent_to_share="refused", legal_basis_without_consent="dpa-2018-sch1-safeguarding"
    )
    assert (await scene.start()).status_code == 201
    assert (await scene.put(scene.nurse, '"1"', second)).status_code == 200
    await scene.lock(revision=2)
    assert (await scene.put(scene.officer, '"2"', third, reason=REASON)).status_code == 200

    history = await scene.client.get(f"{scene.url}/revisions", headers=bearer(scene.nurse))
    assert history.status_code == 200
    officer = signer(scene.officer, OFFICER_NAME, "officer", "NSP")
    nurse = signer(scene.nurse, NURSE_NAME, "mh_practitioner", "RQI")
    revisions = history.json()
    assert [
        (r["revision"], r["kind"], r["author"], r["amendment_reason"], r["content"])
        for r in revisions
    ] == [
        (1, "created", officer, None, as_read(first)),
        (2, "updated", nurse, None, as_read(second)),
        (3, "amended", officer, REASON, as_read(third)),
    ]
    created = [datetime.fromisoformat(r["created_at"]) for r in revisions]
    assert created == sorted(created)


# Content validation


def risk_without_rationale() -> dict[str, Any]:
    return assessment_content(risk_to_self={"level": "medium"})


@pytest.mark.parametrize(
    ("content", "location", "code"),
    [
        pytest.param(
            risk_without_rationale(),
            "body.content.risk_to_self",
            "value_error",
            id="risk-without-rationale",
        ),
        pytest.param(
            assessment_content(consent_to_share="refused"),
            "body.content",
            "value_error",
            id="refused-without-legal-basis",
        ),
        pytest.param(
            assessment_content(crisis_flag_changed_decision=None),
            "body.content",
            "value_error",
            id="flag-consulted-without-effect",
        ),
        pytest.param(
            assessment_content(crisis_flag_consulted=False),
            "body.content",
            "value_error",
            id="flag-effect-without-consulting",
        ),
        pytest.param(
            assessment_content(intoxication="cannabis"),
            "body.content.intoxication",
            "enum",
            id="unknown-enum-value",
        ),
        pytest.param(
            assessment_content(presenting_situation="Confidential narrative. " * 200),
            "body.content.presenting_situation",
            "string_too_long",
            id="situation-over-4000",
        ),
        pytest.param(
            assessment_content(nhs_number="9000000009"),
            "body.content.nhs_number",
            "extra_forbidden",
            id="unknown-field",
        ),
        pytest.param(
            assessment_content(mental_capacity={"considered": True, "notes": "Said to be unclear"}),
            "body.content.mental_capacity",
            "value_error",
            id="capacity-without-outcome",
        ),
        pytest.param(
            assessment_content(s136_considered=False, police_powers_used=["section_136"]),
            "body.content",
            "value_error",
            id="s136-used-not-considered",
        ),
    ],
)
async def test_invalid_content_is_422_naming_where(
    exchanger: Exchanger, content: dict[str, Any], location: str, code: str
) -> None:
    scene = await make_scene(exchanger)
    response = await scene.start(content=content)
    body = problem(response, 422, "validation")
    assert body["detail"] == "One or more values are missing or invalid."
    assert [(p["location"], p["code"]) for p in body["invalid_params"]] == [(location, code)]
    # Nothing submitted is echoed back.
    for secret in ("9000000009", "Confidential narrative", "Said to be unclear", "cannabis"):
        assert secret not in response.text
    problem(
        await scene.client.get(scene.url, headers=bearer(scene.officer)),
        404,
        "assessment-not-found",
    )


async def test_invalid_content_is_refused_on_change_too(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    response = await scene.put(scene.officer, '"1"', risk_without_rationale())
    body = problem(response, 422, "validation")
    assert locations(body) == ["body.content.risk_to_self"]
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    assert read.json()["revision"] == 1


@pytest.mark.parametrize("basis", ["uk-gdpr-6-1-e", "uk-gdpr-9-2-h", "dpa-2018-sch1-safeguarding"])
async def test_legal_basis_from_the_agreement_is_accepted(exchanger: Exchanger, basis: str) -> None:
    scene = await make_scene(exchanger)
    content = assessment_content(consent_to_share="not_possible", legal_basis_without_consent=basis)
    started = await scene.start(content=content)
    assert started.status_code == 201, started.text
    assert started.json()["content"]["legal_basis_without_consent"] == basis


async def test_legal_basis_outside_the_agreement_is_refused(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    content = assessment_content(
        consent_to_share="refused", legal_basis_without_consent="made-up-basis-9000000009"
    )
    response = await scene.start(content=content)
    body = problem(response, 422, "validation")
    assert body["detail"] == (
        "content.legal_basis_without_consent must be one of the agreement's legal bases: "
        "dpa-2018-sch1-safeguarding, uk-gdpr-6-1-e, uk-gdpr-9-2-h"
    )
    assert "made-up-basis" not in response.text
    assert "9000000009" not in response.text

    assert (await scene.start()).status_code == 201
    changed = await scene.put(scene.officer, '"1"', content)
    problem(changed, 422, "validation")
    assert "made-up-basis" not in changed.text


async def test_consent_given_with_a_legal_basis_is_refused(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    content = assessment_content(legal_basis_without_consent="uk-gdpr-6-1-e")
    body = problem(await scene.start(content=content), 422, "validation")
    assert [(p["location"], p["code"]) for p in body["invalid_params"]] == [
        ("body.content", "value_error")
    ]


async def test_identified_subject_is_assessed_without_echoing_the_nhs_number(
    exchanger: Exchanger,
) -> None:
    scene = await make_scene(exchanger)
    identified = await scene.add_subject({"nhs_number": "9000000009"})
    started = await scene.start(subject_id=identified)
    assert started.status_code == 201, started.text
    assert "9000000009" not in started.text
    bad = await scene.put(scene.officer, '"1"', risk_without_rationale(), subject_id=identified)
    problem(bad, 422, "validation")
    assert "9000000009" not in bad.text


# After the incident is closed


async def test_after_closing_only_signed_assessments_change(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    draft_subject = await scene.add_subject({"description": "Woman with him, forties"})
    assert (await scene.start()).status_code == 201
    assert (await scene.start(subject_id=draft_subject)).status_code == 201
    await scene.lock()
    await scene.close()

    # Closing revoked the bound tokens; a new one reads and amends only.
    problem(
        await scene.client.get(scene.url, headers=bearer(scene.officer)), 401, "unauthenticated"
    )
    rebound = await exchanger.request(
        "officer", "NSP", "street-triage", incident_id=scene.incident_id
    )
    assert rebound.status_code == 200
    assert rebound.json()["scope"] == "incident:amend incident:read"
    token = rebound.json()["access_token"]

    read = await scene.client.get(scene.url, headers=bearer(token))
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'

    without = await scene.put(token, '"1"', assessment_content(intoxication="none"))
    problem(without, 422, "validation")
    amended = await scene.put(token, '"1"', assessment_content(intoxication="none"), reason=REASON)
    assert amended.status_code == 200, amended.text
    assert (amended.json()["revision"], amended.json()["status"]) == (2, "locked")
    history = await scene.client.get(f"{scene.url}/revisions", headers=bearer(token))
    assert [r["kind"] for r in history.json()] == ["created", "amended"]

    # The unsigned draft is frozen: the token may not write, and a reason does not help.
    draft = await scene.put(token, '"1"', assessment_content(), subject_id=draft_subject)
    body = problem(draft, 403, "not-a-contributor")
    assert body["detail"] == "This token may not change a draft assessment."
    with_reason = await scene.put(
        token, '"1"', assessment_content(), reason=REASON, subject_id=draft_subject
    )
    problem(with_reason, 422, "validation")
    problem(await scene.sign(token, '"1"', subject_id=draft_subject), 403, "forbidden")
    problem(await scene.start(token, subject_id=uuid.uuid4()), 403, "forbidden")
    draft_read = await scene.client.get(scene.url_for(draft_subject), headers=bearer(token))
    assert (draft_read.json()["revision"], draft_read.json()["status"]) == (1, "draft")

    added = await scene.client.post(
        f"{scene.incident_url}/subjects", json={"description": "Another"}, headers=bearer(token)
    )
    problem(added, 403, "forbidden")
    assert added.headers["www-authenticate"] == (
        'Bearer realm="street-triage", error="insufficient_scope", scope="incident:write"'
    )


# Concurrency


async def test_second_writer_with_the_same_etag_gets_412(exchanger: Exchanger) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    first = await scene.put(scene.officer, '"1"', assessment_content(intoxication="none"))
    second = await scene.put(scene.nurse, '"1"', assessment_content(intoxication="drugs"))
    assert first.status_code == 200, first.text
    problem(second, 412, "precondition-failed")
    assert second.headers["etag"] == '"2"'
    read = await scene.client.get(scene.url, headers=bearer(scene.nurse))
    assert (read.json()["revision"], read.json()["content"]["intoxication"]) == (2, "none")


@pytest.fixture
def committing_client(committing: Committing) -> tuple[Exchanger, str]:
    return committing.exchanger, committing.url


async def committed_actions(url: str, incident_id: uuid.UUID) -> list[str]:
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AuditEvent.action)
                .where(col(AuditEvent.incident_id) == incident_id)
                .order_by(col(AuditEvent.occurred_at), col(AuditEvent.id))
            )
            return [action for (action,) in rows]
    finally:
        await engine.dispose()


async def test_concurrent_writers_exactly_one_wins(
    committing_client: tuple[Exchanger, str],
) -> None:
    exchanger, url = committing_client
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201

    for revision, writers in ((1, 2), (2, 8)):
        tag = f'"{revision}"'
        tokens = [scene.officer, scene.nurse] * (writers // 2)
        responses = await asyncio.gather(
            *(
                scene.put(token, tag, assessment_content(decision=f"Decision {n}"))
                for n, token in enumerate(tokens)
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * (writers - 1), [r.text for r in responses]
        (winner,) = (response for response in responses if response.status_code == 200)
        assert winner.headers["etag"] == f'"{revision + 1}"'
        for loser in responses:
            if loser is not winner:
                problem(loser, 412, "precondition-failed")
                assert loser.headers["etag"] == f'"{revision + 1}"'
        read = await scene.client.get(scene.url, headers=bearer(scene.officer))
        assert read.json()["revision"] == revision + 1
        assert read.json()["content"] == winner.json()["content"]

    history = await scene.client.get(f"{scene.url}/revisions", headers=bearer(scene.officer))
    assert [r["revision"] for r in history.json()] == [1, 2, 3]
    actions = await committed_actions(url, scene.incident_id)
    assert actions.count("assessment.write") == 3


async def test_concurrent_signatures_lock_once(
    committing_client: tuple[Exchanger, str],
) -> None:
    exchanger, _ = committing_client
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    colleague = await exchanger.token(
        "officer",
        "NSP",
        "street-triage",
        incident_id=scene.incident_id,
        subject_token=exchanger.idp.token("officer", "NSP", sub="officer-nsp-2", name="PC Two"),
    )
    # Two officers race for the officer's signature while the practitioner signs.
    officer, nurse, other = await asyncio.gather(
        scene.sign(scene.officer, '"1"'),
        scene.sign(scene.nurse, '"1"'),
        scene.sign(colleague, '"1"'),
    )
    assert nurse.status_code == 200, nurse.text
    assert sorted([officer.status_code, other.status_code]) == [200, 409], [
        officer.text,
        other.text,
    ]
    read = await scene.client.get(scene.url, headers=bearer(scene.officer))
    body = read.json()
    assert body["status"] == "locked"
    assert sorted(s["role"] for s in body["signatures"]) == ["mh_practitioner", "officer"]


# Audit


async def test_every_read_and_write_is_audited(
    exchanger: Exchanger, connection: AsyncConnection
) -> None:
    scene = await make_scene(exchanger)
    assert (await scene.start()).status_code == 201
    assert (await scene.client.get(scene.url, headers=bearer(scene.nurse))).status_code == 200
    assert (await scene.put(scene.nurse, '"1"', assessment_content())).status_code == 200
    # A refused write leaves no write event.
    assert (await scene.put(scene.nurse, '"1"', assessment_content())).status_code == 412
    await scene.lock(revision=2)
    amended = await scene.put(scene.officer, '"2"', assessment_content(), reason=REASON)
    assert amended.status_code == 200
    history = await scene.client.get(f"{scene.url}/revisions", headers=bearer(scene.officer))
    assert history.status_code == 200

    assert await assessment_events(connection, scene.incident_id) == [
        ("assessment.write", "officer", {"revision": 1}),
        ("assessment.read", "mh_practitioner", {}),
        ("assessment.write", "mh_practitioner", {"revision": 2, "kind": "updated"}),
        ("assessment.sign", "officer", {"revision": 2, "locked": False}),
        ("assessment.sign", "mh_practitioner", {"revision": 2, "locked": True}),
        ("assessment.write", "officer", {"revision": 3, "kind": "amended"}),
        ("assessment.read", "officer", {}),
    ]
