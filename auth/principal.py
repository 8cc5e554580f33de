"""Who is asking, for what, and bound to which incident: what every protected route receives."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from models import Role, Scope


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    display_name: str
    role: Role
    organisation_code: str
    purpose: str
    scopes: frozenset[Scope]
    incident_id: uuid.UUID | None
    token_jti: uuid.UUID
    expires_at: datetime
