"""Assertions on RFC 9457 problem responses and token subjects, shared by the API tests."""

from typing import Any

import httpx
from jose import jwt as jose_jwt

PROBLEM_BASE = "https://street-triage.nhs.example/problems/"
TITLES = {
    "validation": "Invalid request",
    "assessment-exists": "Assessment already started",
    "assessment-not-found": "Assessment not found",
    "subject-not-found": "Subject not found",
    "incident-not-found": "Incident not found",
    "already-signed": "Already signed",
    "not-a-contributor": "Not a contributor",
    "outcome-not-found": "Outcome not recorded",
    "outcome-missing": "Outcome not recorded",
    "precondition-required": "If-Match required",
    "precondition-failed": "Changed since you read it",
    "forbidden": "Not allowed",
    "unauthenticated": "Authentication required",
    "crisis-plan-not-found": "Crisis plan not found",
    "crisis-plan-exists": "Active crisis plan exists",
    "crisis-plan-withdrawn": "Crisis plan withdrawn",
    "not-a-crisis-planner": "Not a crisis planner",
    "invalid-cursor": "Invalid cursor",
    "notification-not-found": "Notification not found",
    "break-glass-review-not-found": "Break-glass review not found",
    "break-glass-review-completed": "Break-glass review already completed",
}


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == PROBLEM_BASE + slug
    assert body["title"] == TITLES[slug]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def user_id(token: str) -> str:
    """Our user id (`sub`) in one of our access tokens."""
    subject: str = jose_jwt.get_unverified_claims(token)["sub"]
    return subject
