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


def in_days(days: int) -> str:
    """A date relative to today as the API counts it (UTC)."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def nhs_number(seed: int) -> str:
    """A valid NHS number (Modulus 11) at or after the nine-digit seed."""
    while True:
        stem = f"{seed:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return stem + str(check % 11)
        seed += 1


def always_open() -> dict[str, Any]:
    """Contact hours of a 24-hour line, as the API returns them: every field given."""
    return {"always": True, "periods": [], "open_on_bank_holidays": False}


def office_hours(
    opens: str = "09:00:00", closes: str = "17:00:00", *, bank_holidays: bool = False
) -> dict[str, Any]:
    """Monday to Friday, as the API returns them (times with seconds)."""
    return {
        "always": False,
        "periods": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": opens, "closes": closes}
        ],
        "open_on_bank_holidays": bank_holidays,
    }


def crisis_plan_payload(**overrides: Any) -> dict[str, Any]:
    """A complete plan: every optional field given, so the API returns exactly what was sent."""
    payload: dict[str, Any] = {
        "nhs_number": "9000000009",
        "review_date": in_days(90),
        "agreed_with_person": True,
        "police": {
            "safety_alerts": {
                "risk_to_self": "high",
                "risk_to_others": "low",
                "risk_from_others": "not_recorded",
            },
            "approach_advice": "Speak calmly; he responds to his first name, Alan.",
            "crisis_contact": {
                "team": "Crisis resolution team",
                "phone": "0113 555 0100",
                "hours": always_open(),
                "out_of_hours": {"description": "Avonmere crisis line", "phone": "0800 555 0199"},
            },
        },
        "clinical": {
            "triggers": "Anniversary of his brother's death in March.",
            "early_signs": "Stops answering the phone; sleeps in the day.",
            "what_helps": "Talking about his dog; a quiet space; his sister Jo.",
            "what_to_avoid": "Raised voices, several officers at once.",
            "mha_status": "Informal patient",
            "care_coordinator": "Sam Patel, CMHT North",
            "dependants": "None",
            "access_notes": "Key safe by the back door; code held by the CMHT.",
            "safeguarding": "No current safeguarding concerns.",
            "information_sharing": {"consent": "given", "reason_without_consent": None},
            "actions": [
                {
                    "when": "He is found at height",
                    "action": "Call the crisis team; his sister Jo can come within 30 minutes.",
                }
            ],
        },
    }
    payload.update(overrides)
    return payload
