"""The joint assessment: drafts, two signatures that lock it, amendments with reasons after that."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from api.assessment import repository
from api.audit.repository import principal_event, record
from api.errors import ServiceError
from api.incident import repository as incident_repository
from api.incident import service as incidents
from api.incident.service import InvalidIncidentRequest
from auth.principal import Principal
from models import (
    Assessment,
    AssessmentContent,
    AssessmentRead,
    AssessmentRevision,
    AssessmentSignature,
    AssessmentStatus,
    AssessmentWrite,
    AuditAction,
    AuditEvent,
    Contributor,
    ContributorRole,
    DataClass,
    Incident,
    IncidentStatus,
    Partnership,
    RevisionKind,
    RevisionRead,
    Role,
    Scope,
    SignatureRead,
    UserAccount,
)


class AssessmentNotFound(ServiceError):
    status = 404
    type_slug = "assessment-not-found"
    title = "Assessment not found"


class AssessmentExists(ServiceError):
    status = 409
    type_slug = "assessment-exists"
    title = "Assessment already started"


class AmendmentReasonRequired(ServiceError):
    status = 422
    type_slug = "validation"
    title = "Invalid request"


class AlreadySigned(ServiceError):
    status = 409
    type_slug = "already-signed"
    title = "Already signed"


class NotAContributor(ServiceError):
    status = 403
    type_slug = "not-a-contributor"
    title = "Not a contributor"


JOINT_ASSESSMENT = [DataClass.joint_assessment.value]

# Raises 428/412 unless the request's If-Match names the given revision.
VersionCheck = Callable[[int], None]


@dataclass(frozen=True)
class Loaded:
    incident: Incident
    assessment: Assessment
    current: AssessmentRevision
    # The person the assessment is about, if identified: every audit event names them.
    person_id: uuid.UUID | None


async def _subject_assessment(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Loaded:
    """The assessment, with its incident; `for_update` locks both rows for a write."""
    incident = await incidents.read_incident(session, principal, incident_id, for_update=for_update)
    subject = await incident_repository.find_subject(session, incident_id, subject_id)
    if subject is None:
        raise incidents.SubjectNotFound()
    assessment = await repository.find_for_subject(session, subject_id, for_update=for_update)
    if assessment is None:
        raise AssessmentNotFound()
    current = await repository.current_revision(session, assessment)
    return Loaded(incident, assessment, current, subject.person_id)


def _read_event(principal: Principal, incident_id: uuid.UUID, loaded: Loaded) -> AuditEvent:
    return principal_event(
        AuditAction.assessment_read,
        principal,
        incident_id,
        person_id=loaded.person_id,
        data_classes=JOINT_ASSESSMENT,
    )


def _require_open(incident_status: str) -> None:
    if incident_status == IncidentStatus.closed:
        raise incidents.IncidentClosed(
            "The incident is closed; only signed assessments can be amended."
        )


def _check_legal_basis(partnership: Partnership, content: AssessmentContent) -> None:
    basis = content.legal_basis_without_consent
    known = {item.code for item in partnership.agreement.legal_basis}
    if basis is not None and basis not in known:
        raise InvalidIncidentRequest(
            "content.legal_basis_without_consent must be one of the agreement's legal bases: "
            + ", ".join(sorted(known))
        )


async def start_assessment(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    payload: AssessmentWrite,
) -> AssessmentRead:
    incident = await incidents.writable_incident(session, principal, incident_id)
    subject = await incident_repository.find_subject(session, incident_id, subject_id)
    if subject is None:
        raise incidents.SubjectNotFound()
    if await repository.find_for_subject(session, subject_id) is not None:
        raise AssessmentExists("This subject's assessment exists; change it with PUT and If-Match.")
    if payload.amendment_reason is not None:
        raise AmendmentReasonRequired(
            "amendment_reason is given only when amending a locked assessment."
        )
    _check_legal_basis(partnership, payload.content)
    assessment = Assessment(incident_id=incident_id, subject_id=subject_id)
    revision = AssessmentRevision(
        assessment_id=assessment.id,
        revision=1,
        kind=RevisionKind.created,
        content=payload.content.model_dump(mode="json"),
        author_id=principal.user_id,
    )
    await repository.add(session, assessment)
    await repository.add(session, revision)
    await record(
        session,
        principal_event(
            AuditAction.assessment_write,
            principal,
            incident_id,
            {"revision": 1},
            person_id=subject.person_id,
            data_classes=JOINT_ASSESSMENT,
        ),
    )
    return await _read(session, Loaded(incident, assessment, revision, subject.person_id))


async def change_assessment(
    session: AsyncSession,
    partnership: Partnership,
    principal: Principal,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    payload: AssessmentWrite,
    check_version: VersionCheck,
) -> AssessmentRead:
    """A draft is updated; a locked assessment is amended, with a reason, even after closing."""
    target = await repository.lock_for_write(
        session, incident_id, subject_id, principal.organisation_code
    )
    if target is None:
        target = await _write_target(session, principal, incident_id, subject_id)
    check_version(target.revision)
    locked = target.status == AssessmentStatus.locked
    if locked:
        if Scope.incident_amend not in principal.scopes:
            raise NotAContributor("This token may not amend a signed assessment.")
        if payload.amendment_reason is None:
            raise AmendmentReasonRequired(
                "amendment_reason is required: the assessment is signed and locked."
            )
    else:
        if payload.amendment_reason is not None:
            raise AmendmentReasonRequired(
                "amendment_reason is given only when amending a locked assessment."
            )
        if Scope.incident_write not in principal.scopes:
            raise NotAContributor("This token may not change a draft assessment.")
        _require_open(target.incident_status)
    _check_legal_basis(partnership, payload.content)
    revision = target.revision + 1
    kind = RevisionKind.amended if locked else RevisionKind.updated
    updated_at, contributions = await repository.write_revision(
        session,
        target.id,
        revision=revision,
        kind=kind,
        content=payload.content,
        amendment_reason=payload.amendment_reason,
        author_id=principal.user_id,
    )
    await record(
        session,
        principal_event(
            AuditAction.assessment_write,
            principal,
            incident_id,
            {"revision": revision, "kind": kind.value},
            person_id=target.person_id,
            data_classes=JOINT_ASSESSMENT,
        ),
    )
    # The content was validated as the request's body, and is what was stored.
    return _assessment_read(
        id=target.id,
        incident_id=target.incident_id,
        subject_id=target.subject_id,
        revision=revision,
        status=AssessmentStatus(target.status),
        content=payload.content,
        created_at=target.created_at,
        updated_at=updated_at,
        locked_at=target.locked_at,
        contributions=contributions,
    )


async def _write_target(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, subject_id: uuid.UUID
) -> repository.WriteTarget:
    """When the one-statement lock finds nothing, the step-by-step load says which of the
    incident, subject or assessment is missing, and raises its 404."""
    loaded = await _subject_assessment(session, principal, incident_id, subject_id, for_update=True)
    assessment = loaded.assessment
    return repository.WriteTarget(
        incident_status=loaded.incident.status,
        person_id=loaded.person_id,
        id=assessment.id,
        incident_id=assessment.incident_id,
        subject_id=assessment.subject_id,
        revision=assessment.revision,
        status=assessment.status,
        created_at=assessment.created_at,
        locked_at=assessment.locked_at,
    )


async def sign_assessment(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    check_version: VersionCheck,
) -> AssessmentRead:
    """Sign the revision the signer read. The second contributor's signature locks it."""
    loaded = await _subject_assessment(session, principal, incident_id, subject_id, for_update=True)
    _require_open(loaded.incident.status)
    assessment = loaded.assessment
    check_version(assessment.revision)
    if assessment.status == AssessmentStatus.locked:
        raise AlreadySigned("The assessment is already signed by both contributors.")
    if principal.role not in (Role.officer, Role.mh_practitioner):
        raise NotAContributor("Only the officer and the practitioner sign.")
    role = ContributorRole(principal.role.value)
    existing = [
        signature
        for signature in await repository.signatures(session, assessment.id)
        if signature.revision == assessment.revision
    ]
    if any(signature.role == role for signature in existing):
        raise AlreadySigned("This revision already carries a signature for your role.")
    signature = AssessmentSignature(
        assessment_id=assessment.id,
        revision=assessment.revision,
        role=role,
        signer_id=principal.user_id,
        organisation_code=principal.organisation_code,
    )
    if {s.role for s in existing} | {role} == set(ContributorRole):
        assessment.status = AssessmentStatus.locked
        assessment.locked_at = signature.signed_at
    await repository.add(session, signature, assessment)
    await record(
        session,
        principal_event(
            AuditAction.assessment_sign,
            principal,
            incident_id,
            {
                "revision": assessment.revision,
                "locked": assessment.status == AssessmentStatus.locked,
            },
            person_id=loaded.person_id,
            data_classes=JOINT_ASSESSMENT,
        ),
    )
    return await _read(session, loaded)


async def read_assessment(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, subject_id: uuid.UUID
) -> AssessmentRead:
    loaded = await _subject_assessment(session, principal, incident_id, subject_id)
    await record(session, _read_event(principal, incident_id, loaded))
    return await _read(session, loaded)


async def read_history(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID, subject_id: uuid.UUID
) -> list[RevisionRead]:
    loaded = await _subject_assessment(session, principal, incident_id, subject_id)
    history = await repository.revisions(session, loaded.assessment.id)
    people = await repository.users(session, {revision.author_id for revision in history})
    await record(session, _read_event(principal, incident_id, loaded))
    return [
        RevisionRead(
            revision=revision.revision,
            kind=revision.kind,
            content=AssessmentContent.model_validate(revision.content),
            amendment_reason=revision.amendment_reason,
            author=_contributor(people[revision.author_id]),
            created_at=revision.created_at,
        )
        for revision in history
    ]


async def _read(session: AsyncSession, loaded: Loaded) -> AssessmentRead:
    assessment = loaded.assessment
    return _assessment_read(
        id=assessment.id,
        incident_id=assessment.incident_id,
        subject_id=assessment.subject_id,
        revision=assessment.revision,
        status=assessment.status,
        content=AssessmentContent.model_validate(loaded.current.content),
        created_at=assessment.created_at,
        updated_at=assessment.updated_at,
        locked_at=assessment.locked_at,
        contributions=await repository.contributions(session, assessment.id),
    )


def _assessment_read(
    *,
    id: uuid.UUID,
    incident_id: uuid.UUID,
    subject_id: uuid.UUID,
    revision: int,
    status: AssessmentStatus,
    content: AssessmentContent,
    created_at: datetime,
    updated_at: datetime,
    locked_at: datetime | None,
    contributions: repository.Contributions,
) -> AssessmentRead:
    signatures = contributions.signatures
    # Locked: the signatures that locked it. Draft: those on the current revision.
    signed_revision = max((s.revision for s in signatures), default=revision)
    shown_revision = signed_revision if status == AssessmentStatus.locked else revision
    contributors: dict[uuid.UUID, Contributor] = {}
    for person in contributions.authors + [s.signer for s in signatures]:
        contributors.setdefault(person.user_id, _person(person))
    return AssessmentRead(
        id=id,
        incident_id=incident_id,
        subject_id=subject_id,
        revision=revision,
        status=status,
        content=content,
        signatures=[
            SignatureRead(
                role=ContributorRole(s.role),
                revision=s.revision,
                signer=contributors[s.signer.user_id],
                signed_at=s.signed_at,
            )
            for s in signatures
            if s.revision == shown_revision
        ],
        contributors=list(contributors.values()),
        created_at=created_at,
        updated_at=updated_at,
        locked_at=locked_at,
    )


def _person(person: repository.Person) -> Contributor:
    return Contributor(
        user_id=person.user_id,
        name=person.name,
        role=person.role,
        organisation_code=person.organisation_code,
    )


def _contributor(user: UserAccount) -> Contributor:
    return Contributor(
        user_id=user.id,
        name=user.display_name,
        role=user.role,
        organisation_code=user.organisation_code,
    )
