"""Valid request bodies to start from; tests change one thing at a time."""

from datetime import UTC, datetime, timedelta
from typing import Any

CAD_REFERENCE = "LP-20261121-0412"


def at(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def incident_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "cad_reference": CAD_REFERENCE,
        "time_of_call_at": at(50),
        "arrival_at": at(35),
        "location": {"area_code": "E01012345"},
        "attendance_reason": "risk_to_life_or_serious_harm",
        "triage_mode": "face_to_face",
        "partner_trust_code": "RQI",
    }
    for name, value in overrides.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def assessment_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "presenting_situation": "Man on railway bridge after an argument, distressed, talking of jumping.",
        "risk_to_self": {"level": "high", "rationale": "Stated intent, at height, recent loss."},
        "risk_to_others": {
            "level": "low",
            "rationale": "Verbally angry, no weapon, no threats made.",
        },
        "risk_from_others": {"level": "none"},
        "intoxication": "alcohol",
        "mental_capacity": {"considered": True, "outcome": "has_capacity"},
        "consent_to_share": "given",
        "s136_considered": True,
        "police_powers_used": [],
        "crisis_flag_consulted": True,
        "crisis_flag_changed_decision": True,
        "decision": "Voluntary attendance at the crisis team; no detention.",
        "decision_rationale": "Engaged with the nurse, accepted support; crisis plan named what helps.",
    }
    content.update(overrides)
    return content


def outcome_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "codes": ["s136_considered_not_used", "referral_crisis_team"],
        "left_scene_at": at(5),
        "handover_at": at(10),
    }
    payload.update(overrides)
    return payload
