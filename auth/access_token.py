"""The API's own purpose-bound access tokens (RFC 9068 `at+jwt`, ES256): issuing and verifying."""

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jose import jwt as jose_jwt

from auth.errors import InvalidToken
from auth.jwt import check_claims, decode, read_header
from auth.keys import ALGORITHM, SigningKeySet
from models import Role, Scope
from models.partnership import MAX_TOKEN_LIFETIME_SECONDS

TOKEN_TYPE = "at+jwt"
# Tokens whose signatures have been verified, kept by their exact text (a token lives five minutes
# at most and is presented on every request of its life): a few megabytes at most.
VERIFIED_TOKENS_KEPT = 4096


@dataclass(frozen=True)
class AccessClaims:
    jti: uuid.UUID
    user_id: uuid.UUID
    role: Role
    organisation_code: str
    purpose: str
    scopes: frozenset[Scope]
    incident_id: uuid.UUID | None
    issued_at: int
    expires_at: int

    @property
    def expires_at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


@dataclass(frozen=True)
class TokenAuthority:
    """Issues and verifies our tokens with one key set, issuer and audience."""

    keys: SigningKeySet
    issuer: str
    audience: str
    # The signature check is most of a token's verification: done once per token text, while the
    # key that verified it is still the key under its kid. The claims (expiry above all) are
    # checked against the clock on every request.
    _verified: OrderedDict[str, tuple[str, Any, dict[str, Any]]] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False
    )

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        role: Role,
        organisation_code: str,
        purpose: str,
        scopes: list[Scope],
        incident_id: uuid.UUID | None,
        lifetime_seconds: int,
        actor: dict[str, str],
        now: int,
    ) -> tuple[str, AccessClaims]:
        if lifetime_seconds > MAX_TOKEN_LIFETIME_SECONDS:
            raise ValueError("token lifetime above the cap")
        claims = AccessClaims(
            jti=uuid.uuid4(),
            user_id=user_id,
            role=role,
            organisation_code=organisation_code,
            purpose=purpose,
            scopes=frozenset(scopes),
            incident_id=incident_id,
            issued_at=now,
            expires_at=now + lifetime_seconds,
        )
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "client_id": "street-triage-tablet",
            "iat": now,
            "nbf": now,
            "exp": claims.expires_at,
            "jti": str(claims.jti),
            "role": role.value,
            "org": organisation_code,
            "purpose": purpose,
            "scope": " ".join(sorted(scopes)),
            "act": actor,
        }
        if incident_id is not None:
            payload["incident"] = str(incident_id)
        signing = self.keys.active
        token = jose_jwt.encode(
            payload,
            signing.private_key,
            algorithm=ALGORITHM,
            headers={"typ": TOKEN_TYPE, "kid": signing.kid},
        )
        return token, claims

    def verify(self, token: str, *, now: float) -> AccessClaims:
        """Signature, header and claims; the database checks (revocation, user) come after."""
        verified = self._verified.get(token)
        if verified is None or self.keys.verification_key(verified[0]) is not verified[1]:
            header = read_header(token, algorithm=ALGORITHM, token_types=frozenset({TOKEN_TYPE}))
            key = self.keys.verification_key(header["kid"])
            if key is None:
                raise InvalidToken("kid_unknown")
            claims = decode(
                token, key, algorithm=ALGORITHM, audience=self.audience, issuer=self.issuer
            )
            verified = (header["kid"], key, claims)
        claims = verified[2]
        check_claims(
            claims,
            audience=self.audience,
            now=now,
            max_lifetime_seconds=MAX_TOKEN_LIFETIME_SECONDS,
            require_nbf=True,
        )
        access = _access_claims(claims)
        if token not in self._verified:
            self._verified[token] = verified
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return access


def _access_claims(claims: dict[str, Any]) -> AccessClaims:
    try:
        scopes = claims["scope"]
        incident = claims.get("incident")
        if not isinstance(scopes, str) or not isinstance(claims["purpose"], str):
            raise InvalidToken("claims_invalid")
        if not isinstance(claims["org"], str) or not isinstance(claims["role"], str):
            raise InvalidToken("claims_invalid")
        if incident is not None and not isinstance(incident, str):
            raise InvalidToken("claims_invalid")
        return AccessClaims(
            jti=uuid.UUID(claims["jti"]),
            user_id=uuid.UUID(claims["sub"]),
            role=Role(claims["role"]),
            organisation_code=claims["org"],
            purpose=claims["purpose"],
            scopes=frozenset(Scope(item) for item in scopes.split()),
            incident_id=uuid.UUID(incident) if incident is not None else None,
            issued_at=claims["iat"],
            expires_at=claims["exp"],
        )
    except (KeyError, ValueError, TypeError):
        raise InvalidToken("claims_invalid") from None
