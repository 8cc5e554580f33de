"""The agreement in force is readable by anyone, and says what is shared, with whom and why."""

import httpx

from models import DataClass


async def test_agreement_shows_parties_purposes_and_access(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/agreement")
    assert response.status_code == 200
    agreement = response.json()
    assert agreement["title"] == "Northshire Street Triage Information Sharing Agreement"
    kinds = sorted(org["kind"] for org in agreement["organisations"])
    assert kinds == ["nhs_trust", "nhs_trust", "police_force"]
    assert {p["name"] for p in agreement["purposes"]} == {
        "street-triage",
        "crisis-planning",
        "supervision",
        "audit",
        "break-glass",
    }
    break_glass = next(p for p in agreement["purposes"] if p["name"] == "break-glass")
    assert break_glass["purpose_of_use"] == "BTG"
    assert break_glass["incident_binding"] == "required"
    assert break_glass["justification_min_length"] == 20
    assert break_glass["token_lifetime_seconds"] == 120

    officer = next(
        rule
        for rule in agreement["access"]
        if rule["role"] == "officer" and rule["organisation_kind"] == "police_force"
    )
    assert "crisis_plan_clinical" not in officer["data_classes"]
    assert "crisis_flag" in officer["data_classes"]

    described = {dc["name"]: dc["description"] for dc in agreement["data_classes"]}
    assert set(described) == {dc.value for dc in DataClass}
    assert all(described.values())
    assert agreement["retention"]["incident_days"] == 2190
    assert agreement["lookup_quotas"]["per_user_per_hour"] == 60
    # What staff are held to, shown as the API enforces it.
    assert agreement["incident_quotas"] == {"per_user_per_hour": 20}
    assert agreement["incident_time_of_call_max_age_days"] == 7
    assert "care_coordinator" in {
        reason["code"] for reason in agreement["crisis_plan_relationships"]
    }
    assert {basis["code"] for basis in agreement["legal_basis"]} >= {
        "uk-gdpr-6-1-e",
        "uk-gdpr-9-2-h",
    }


async def test_agreement_is_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/agreement" in schema["paths"]
    assert "/readyz" in schema["paths"]
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
