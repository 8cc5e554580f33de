"""A scene for tests that look people up: partners faked at the transport, an incident, a lookup.

Import the fixtures where they are used (`partners = lookups.partners`, likewise `partner_transport`);
they replace conftest's `partner_transport`, which by default is the network.
"""

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.settings import DEMO_PARTNERSHIP_FILE, Settings
from tests.conftest import Exchanger, bearer
from tests.factories import incident_payload
from tests.partners import PARTNER_CONFIG, FakePartners


@pytest.fixture
def partners() -> FakePartners:
    return FakePartners()


@pytest.fixture
def partner_transport(partners: FakePartners) -> httpx.AsyncBaseTransport:
    return partners.transport()


def with_faked_partners(
    settings: Settings,
    directory: Path,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> Settings:
    """The demo partnership pointing at the faked partners, edited by `edit` if given."""
    document = yaml.safe_load(DEMO_PARTNERSHIP_FILE.read_text())
    document["partners"] = PARTNER_CONFIG
    if edit is not None:
        edit(document)
    path = directory / "partnership.yaml"
    path.write_text(yaml.safe_dump(document))
    return settings.model_copy(update={"partnership_file": path, **overrides})


async def scene(exchanger: Exchanger, trust: str = "RQI") -> uuid.UUID:
    """An officer opens an incident; its id."""
    opener = await exchanger.token("officer", "NSP", "street-triage")
    response = await exchanger.client.post(
        "/v1/incidents", json=incident_payload(partner_trust_code=trust), headers=bearer(opener)
    )
    assert response.status_code == 201
    return uuid.UUID(response.json()["id"])


async def look_up(
    exchanger: Exchanger,
    incident_id: uuid.UUID,
    body: dict[str, Any],
    role: str = "officer",
    org: str = "NSP",
    **form: Any,
) -> httpx.Response:
    """A lookup with a token bound to the incident (`purpose=` in `form` for another purpose)."""
    purpose = form.pop("purpose", "street-triage")
    token = await exchanger.token(role, org, purpose, incident_id=incident_id, **form)
    return await exchanger.client.post(
        f"/v1/incidents/{incident_id}/flag-lookups", json=body, headers=bearer(token)
    )
