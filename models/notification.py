"""What the custodian of a crisis plan is shown of each access to it (the CP-IS transparency rule)."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.lookup import AccessNotification
from models.partnership import Role


class NotificationState(StrEnum):
    unread = "unread"
    read = "read"


class NotificationFilter(StrEnum):
    """Which notifications a listing returns."""

    unread = "unread"
    read = "read"
    all = "all"


class AccessKind(StrEnum):
    lookup = "lookup"
    break_glass = "break_glass"
    plan_written = "plan_written"


class NotificationActor(BaseModel):
    """Who looked: the CP-IS "who, role, organisation"."""

    name: str
    role: Role
    organisation_code: str
    organisation_name: str | None = Field(
        description="From the partnership; null if the organisation has since left it."
    )


class NotifiedPerson(BaseModel):
    nhs_number: str


class NotificationRead(BaseModel):
    id: uuid.UUID
    created_at: datetime = Field(description="When the access happened.")
    read_at: datetime | None = Field(description="When the notified team first marked it read.")
    state: NotificationState
    access_kind: AccessKind = Field(
        description="`break_glass`: a practitioner overrode the usual limits; review it."
        " `plan_written`: another organisation wrote a crisis plan for a person you hold one for."
    )
    break_glass: bool
    actor: NotificationActor
    cad_reference: str | None = Field(description="Null for `plan_written`: no incident.")
    purpose: str
    person: NotifiedPerson

    @classmethod
    def from_row(
        cls, row: AccessNotification, nhs_number: str, organisation_name: str | None
    ) -> "NotificationRead":
        return cls(
            id=row.id,
            created_at=row.created_at,
            read_at=row.read_at,
            state=NotificationState.unread if row.read_at is None else NotificationState.read,
            access_kind=access_kind(row),
            break_glass=row.break_glass,
            actor=NotificationActor(
                name=row.actor_name,
                role=Role(row.actor_role),
                organisation_code=row.actor_organisation_code,
                organisation_name=organisation_name,
            ),
            cad_reference=row.cad_reference,
            purpose=row.purpose,
            person=NotifiedPerson(nhs_number=nhs_number),
        )


def access_kind(row: AccessNotification) -> AccessKind:
    if row.access_kind == AccessKind.plan_written:
        return AccessKind.plan_written
    return AccessKind.break_glass if row.break_glass else AccessKind.lookup


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
    unread: int = Field(
        description="Unread notifications of your organisation, whatever the filter."
    )
