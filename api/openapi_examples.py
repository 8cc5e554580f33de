"""An example of every request body in the OpenAPI document, by its schema's name.

Each is a request the API accepts (a test validates every one against its route's body model),
drawn from the demo partnership: the Northshire police (NSP), the Avonmere trust (RQI) and the
sandbox NHS numbers the partner simulator knows. Review dates are counted from the day the
document is built, since a plan's review date must be in the future.
"""

from datetime import date, timedelta
from typing import Any

from api.token.schemas import JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT

# The shape of a signed JWT, not one: the parts that would identify anyone are left out.
IDENTITY_JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldi1pZHAifQ.<payload>.<signature>"
ACCESS_JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImFwaS1rZXktMSJ9.<payload>.<signature>"
INCIDENT_ID = "6f1c2b9e-3d4a-4b8e-9a51-0c7d2e8f4a13"


def _plan(review_date: str) -> dict[str, Any]:
    return {
        "review_date": review_date,
        "agreed_with_person": True,
        "police": {
            "safety_alerts": {
                "risk_to_self": "high",
                "risk_to_others": "low",
                "risk_from_others": "not_recorded",
            },
            "approach_advice": "Speak calmly, one officer only; he responds to his first name.",
            "crisis_contact": {
                "team": "Crisis resolution team",
                "phone": "0113 555 0100",
                "hours": {
                    "periods": [
                        {
                            "days": ["mon", "tue", "wed", "thu", "fri"],
                            "opens": "09:00:00",
                            "closes": "17:00:00",
                        }
                    ]
                },
                "out_of_hours": {"description": "Avonmere crisis line", "phone": "0800 555 0188"},
            },
        },
        "clinical": {
            "triggers": "Anniversary of a bereavement in March.",
            "what_helps": "A quiet space; talking about his dog.",
            "information_sharing": {"consent": "given"},
        },
    }


ASSESSMENT = {
    "content": {
        "presenting_situation": "Man on a railway bridge after an argument, distressed, talking of jumping.",
        "risk_to_self": {"level": "high", "rationale": "Stated intent, at height, recent loss."},
        "risk_to_others": {"level": "low", "rationale": "Verbally angry, no weapon, no threats."},
        "risk_from_others": {"level": "none"},
        "intoxication": "alcohol",
        "mental_capacity": {"considered": True, "outcome": "has_capacity"},
        "consent_to_share": "given",
        "s136_considered": True,
        "police_powers_used": [],
        "crisis_flag_consulted": True,
        "crisis_flag_changed_decision": True,
        "decision": "Voluntary attendance at the crisis team; no detention.",
        "decision_rationale": "Engaged with the nurse and accepted support; the crisis plan named what helps.",
    }
}


def request_examples(today: date) -> dict[str, dict[str, dict[str, Any]]]:
    """Named examples (`summary`, `value`) for each request body schema."""
    review_date = (today + timedelta(days=90)).isoformat()
    return {
        "TokenExchangeRequest": {
            "unbound": {
                "summary": "An officer's token to open an incident",
                "value": {
                    "grant_type": TOKEN_EXCHANGE_GRANT,
                    "subject_token": IDENTITY_JWT,
                    "subject_token_type": JWT_TOKEN_TYPE,
                    "purpose": "street-triage",
                },
            },
            "bound": {
                "summary": "A token bound to the incident, for its lookups and records",
                "value": {
                    "grant_type": TOKEN_EXCHANGE_GRANT,
                    "subject_token": IDENTITY_JWT,
                    "subject_token_type": JWT_TOKEN_TYPE,
                    "purpose": "street-triage",
                    "incident_id": INCIDENT_ID,
                },
            },
        },
        "RevokeTokenForm": {
            "revoke": {
                "summary": "Revoke an access token",
                "value": {"token": ACCESS_JWT, "token_type_hint": "access_token"},
            }
        },
        "SessionTokenRequest": {
            "dashboard": {
                "summary": "A supervisor's token for the dashboard",
                "value": {"purpose": "supervision"},
            }
        },
        "IncidentCreate": {
            "bridge": {
                "summary": "An incident opened at the scene",
                "value": {
                    "cad_reference": "LP-20261121-0412",
                    "time_of_call_at": "2026-11-21T21:04:00Z",
                    "arrival_at": "2026-11-21T21:19:00Z",
                    "location": {"area_code": "E01012345"},
                    "attendance_reason": "risk_to_life_or_serious_harm",
                    "triage_mode": "face_to_face",
                    "partner_trust_code": "RQI",
                },
            }
        },
        "SubjectCreate": {
            "known": {
                "summary": "A person whose NHS number is known",
                "value": {"nhs_number": "9000000009"},
            },
            "described": {
                "summary": "A person not yet identified",
                "value": {"description": "Man in his thirties, on the bridge"},
            },
        },
        "AssessmentWrite": {
            "assessment": {"summary": "The joint assessment at the scene", "value": ASSESSMENT}
        },
        "OutcomeWrite": {
            "crisis_team": {
                "summary": "Referred to the crisis team without detention",
                "value": {
                    "codes": ["s136_considered_not_used", "referral_crisis_team"],
                    "left_scene_at": "2026-11-21T22:40:00Z",
                    "handover_at": "2026-11-21T22:35:00Z",
                },
            }
        },
        "LookupRequest": {
            "nhs_number": {
                "summary": "By NHS number",
                "value": {"nhs_number": "9000000009"},
            },
            "demographics": {
                "summary": "By demographics, traced on PDS",
                "value": {
                    "demographics": {
                        "family": "Smith",
                        "given": "Jane",
                        "birth_date": "1990-05-14",
                        "postcode": "LS1 4AP",
                    }
                },
            },
        },
        "CrisisPlanCreate": {
            "plan": {
                "summary": "A trust's crisis plan for a person in its care",
                "value": {
                    "nhs_number": "9000000033",
                    "relationship": "care_coordinator",
                    **_plan(review_date),
                },
            }
        },
        "CrisisPlanWrite": {
            "plan": {"summary": "The whole plan, replaced", "value": _plan(review_date)}
        },
        "CrisisPlanSearch": {
            "search": {"summary": "A person's plans", "value": {"nhs_number": "9000000033"}}
        },
        "CrisisPlanWithdraw": {
            "withdraw": {
                "summary": "Withdraw a plan",
                "value": {"reason": "Discharged from the trust's care."},
            }
        },
        "SubjectAccessRequest": {
            "report": {
                "summary": "Everything held and every access to it",
                "value": {"nhs_number": "9000000009"},
            }
        },
        "BreakGlassReviewWrite": {
            "justified": {
                "summary": "A break-glass access found justified",
                "value": {
                    "status": "reviewed",
                    "conclusion": "justified",
                    "finding": "Risk to life at the scene; the practitioner's own trust held no plan.",
                },
            }
        },
        "RelationshipReviewWrite": {
            "confirmed": {
                "summary": "A stated care relationship confirmed",
                "value": {
                    "conclusion": "confirmed",
                    "finding": "The care coordinator's caseload lists the person since March.",
                },
            }
        },
    }
