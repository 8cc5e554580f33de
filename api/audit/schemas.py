"""What information governance officers send and are shown: audit events, subject access
reports, break-glass reviews."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models import AuditEvent, AuditOutcome, NhsNumber, ReviewConclusion, ReviewStatus


class AuditActor(BaseModel):
    user_id: uuid.UUID | None
    name: str | None = Field(description="As the identity provider named them at the time.")
    role: str | None
    organisation_code: str | None


class AuditEventRead(BaseModel):
    id: uuid.UUID
    seq: int = Field(
        description="The order written; gaps where a transaction rolled back. Its place in the "
        "log (commit order) is in its inclusion proof."
    )
    occurred_at: datetime
    action: str
    outcome: AuditOutcome
    reason: str | None = Field(description="Why it was denied or failed: a stable code.")
    actor: AuditActor
    purpose: str | None
    person_id: uuid.UUID | None = Field(
        description="The person whose data it is; null for an event about no one, or about several "
        "(then listed in `details.person_ids`)."
    )
    incident_id: uuid.UUID | None
    token_jti: uuid.UUID | None
    route: str | None
    request_id: str | None
    data_classes: list[str] = Field(description="The classes of data disclosed or written.")
    source_systems: list[str] = Field(description="The systems the data was asked of.")
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: AuditEvent) -> "AuditEventRead":
        assert row.seq is not None
        return cls(
            id=row.id,
            seq=row.seq,
            occurred_at=row.occurred_at,
            action=row.action,
            outcome=AuditOutcome(row.outcome),
            reason=row.reason,
            actor=AuditActor(
                user_id=row.actor_user_id,
                name=row.actor_name,
                role=row.actor_role,
                organisation_code=row.actor_organisation_code,
            ),
            purpose=row.purpose,
            person_id=row.person_id,
            incident_id=row.incident_id,
            token_jti=row.token_jti,
            route=row.route,
            request_id=row.request_id,
            data_classes=row.data_classes,
            source_systems=row.source_systems,
            details=row.details,
        )


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class SubjectAccessRequest(BaseModel):
    """The person's NHS number: in the body, never in a URL."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: NhsNumber


class OtherOrganisationAccesses(BaseModel):
    """Accesses by another organisation to data yours holds, as your organisation was notified of
    them. That organisation answers for the details, as the controller of its own records."""

    organisation_code: str
    organisation_name: str | None = Field(
        description="From the partnership; null if the organisation has since left it."
    )
    accesses: int
    break_glass: int = Field(description="How many of them were break-glass accesses.")
    first_at: datetime
    last_at: datetime


class SubjectAccessReport(BaseModel):
    nhs_number: str
    known: bool = Field(
        description="Whether this organisation's staff accessed the person's data, or it was told"
        " of others' accesses; false, and no id, for anyone else, as for someone never recorded."
    )
    person_id: uuid.UUID | None = Field(
        description="Filter `GET /v1/audit-events` by it to page through every event."
    )
    organisation_code: str = Field(description="Your organisation, which this report answers for.")
    generated_at: datetime
    event_count: int = Field(description="Events by your organisation's staff about the person.")
    events: list[AuditEventRead] = Field(
        description="Those events, newest first, up to `events_limit`."
    )
    events_limit: int
    complete: bool = Field(description="False when there are more events than `events_limit`.")
    other_organisations: list[OtherOrganisationAccesses]
    checkpoint: str | None = Field(
        description="The log's latest signed checkpoint, which every proof here is against; "
        "null if none is signed yet."
    )
    inclusion_proofs: list["InclusionProof"] = Field(
        description="One per listed event sealed into that checkpoint (events written in the "
        "last seconds are not sealed yet): proof the event is in the log everyone was shown."
    )


class BreakGlassReviewStatusFilter(StrEnum):
    """Which reviews a listing returns: the queue still to do, or those done."""

    pending = "pending"
    reviewed = "reviewed"


class BreakGlassReviewWrite(BaseModel):
    """The reviewer's conclusion and finding. A review is completed once."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[ReviewStatus.reviewed] = Field(
        default=ReviewStatus.reviewed, description="Only `reviewed`: a review is completed once."
    )
    conclusion: ReviewConclusion
    finding: str = Field(min_length=1, max_length=2000)


class Practitioner(BaseModel):
    user_id: uuid.UUID
    name: str
    role: str


class Reviewer(BaseModel):
    user_id: uuid.UUID
    name: str


class BreakGlassReviewRead(BaseModel):
    id: uuid.UUID
    status: ReviewStatus
    created_at: datetime = Field(description="When the break-glass token was issued.")
    practitioner: Practitioner
    organisation_code: str = Field(description="The practitioner's organisation, which reviews.")
    incident_id: uuid.UUID
    token_jti: uuid.UUID = Field(
        description="The break-glass token: filter `GET /v1/audit-events` by `token_jti` for what "
        "was read with it."
    )
    justification: str
    reviewed_at: datetime | None
    reviewer: Reviewer | None
    conclusion: ReviewConclusion | None
    finding: str | None


class BreakGlassReviewPage(BaseModel):
    items: list[BreakGlassReviewRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class InclusionProof(BaseModel):
    """Proof that an event is in the log: RFC 9162 inclusion of its leaf in the tree of
    `tree_size` leaves whose root the signed `checkpoint` carries."""

    event_id: uuid.UUID
    leaf_index: int
    tree_size: int
    entry: str = Field(
        description="Base64 of the leaf's bytes: the event's canonical text, UTF-8; its leaf "
        "hash is SHA-256(0x00 || entry)."
    )
    inclusion_path: list[str] = Field(
        description="Base64 SHA-256 hashes, from the leaf's sibling up (RFC 9162 2.1.3)."
    )
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note) of tree_size.")


class ConsistencyProof(BaseModel):
    """Proof that the tree of `first` leaves is a prefix of the tree of `second` (RFC 9162
    2.1.4): nothing sealed was changed, removed or reordered between them."""

    first: int
    second: int
    consistency_path: list[str] = Field(description="Base64 SHA-256 hashes.")
