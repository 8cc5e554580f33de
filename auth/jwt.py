"""JWT hygiene shared by identity tokens and our own (RFC 8725), on top of python-jose.

python-jose 3.5.0 accepts tokens with no `exp` or `aud`, never checks `typ`, accepts a future `iat`,
and will take a public key as an HMAC secret if HS256 is allowed. So before jose sees a token we
check its shape and header ourselves, we give jose exactly one algorithm and one key object, turn on
every `require_*` option, and check types, `typ`, `iat` and lifetime ourselves afterwards.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from jose import jwt as jose_jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JWTClaimsError, JWTError

from auth.errors import InvalidToken

MAX_TOKEN_BYTES = 8192
MAX_HEADER_BYTES = 1024
CLOCK_SKEW_SECONDS = 30
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
# Headers that point at keys or demand extensions: a verifier that honours them trusts the token
# to say how it should be verified. We refuse them outright (and so never fetch a jku or x5u).
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
KID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

STRICT_OPTIONS: Mapping[str, bool] = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iat": True,
    "verify_exp": True,
    "verify_nbf": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_jti": True,
    "require_aud": True,
    "require_iat": True,
    "require_exp": True,
    "require_iss": True,
    "require_sub": True,
    "require_jti": True,
}


def split(token: str) -> tuple[str, str, str]:
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token_too_large")
    parts = token.split(".")
    if len(parts) != 3:
        # Two segments is a stripped signature or a fragment; five is a JWE, which we never accept.
        raise InvalidToken("token_malformed")
    header, payload, signature = parts
    if not all(SEGMENT_PATTERN.match(part) for part in (header, payload, signature)):
        raise InvalidToken("token_malformed")
    return header, payload, signature


def _json_segment(segment: str, limit: int) -> dict[str, Any]:
    if len(segment) > limit:
        raise InvalidToken("token_malformed")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidToken("token_malformed") from None
    if not isinstance(value, dict):
        raise InvalidToken("token_malformed")
    return value


def read_header(token: str, *, algorithm: str, token_types: frozenset[str]) -> dict[str, Any]:
    """The header, checked: the one algorithm expected, an allowed `typ`, a plain `kid`."""
    header = _json_segment(split(token)[0], MAX_HEADER_BYTES)
    if FORBIDDEN_HEADERS & header.keys():
        raise InvalidToken("header_forbidden")
    if header.get("alg") != algorithm:
        raise InvalidToken("algorithm_not_allowed")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") not in token_types:
        raise InvalidToken("type_invalid")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID_PATTERN.match(kid):
        raise InvalidToken("kid_invalid")
    return header


def read_unverified_claims(token: str) -> dict[str, Any]:
    """The payload before any check, for choosing the issuer's keys; never trusted as such."""
    return _json_segment(split(token)[1], MAX_TOKEN_BYTES)


def decode(
    token: str,
    key: Key,
    *,
    algorithm: str,
    audience: str,
    issuer: str,
    require_jti: bool = True,
    access_token: str | None = None,
) -> dict[str, Any]:
    """Verify the signature and registered claims with jose, strictly.

    `access_token`: the one issued with an identity token, checked against its `at_hash`; without
    it `at_hash` is not checked (no access token is then used).
    """
    try:
        claims: dict[str, Any] = jose_jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            access_token=access_token,
            options=dict(STRICT_OPTIONS)
            | {"require_jti": require_jti, "verify_at_hash": access_token is not None},
        )
    except ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except JWTClaimsError:
        raise InvalidToken("claims_invalid") from None
    except JWTError:
        raise InvalidToken("signature_invalid") from None
    except (OverflowError, TypeError, ValueError):
        # jose converts time claims with int(); a signed `"exp": 1e400` is infinity and overflows.
        raise InvalidToken("claims_invalid") from None
    return claims


def check_claims(
    claims: Mapping[str, Any],
    *,
    audience: str,
    now: float,
    max_lifetime_seconds: int,
    require_nbf: bool,
    require_jti: bool = True,
) -> None:
    """What jose leaves unchecked: presence and types, `iat` not ahead, `nbf`, lifetime cap."""
    for name in ("iss", "sub", "jti"):
        value = claims.get(name)
        if name == "jti" and value is None and not require_jti:
            continue
        if not isinstance(value, str) or not value or len(value) > 255:
            raise InvalidToken(f"{name}_invalid")
    # jose lets a token without `aud` through; a list must name us and nothing else matters.
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidToken("aud_invalid")
    times: dict[str, int] = {}
    for name in ("iat", "exp", "nbf"):
        value = claims.get(name)
        if value is None and (name != "nbf" or not require_nbf):
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidToken(f"{name}_invalid")
        times[name] = value
    if times["iat"] > now + CLOCK_SKEW_SECONDS:
        raise InvalidToken("iat_in_future")
    if "nbf" in times and times["nbf"] > now + CLOCK_SKEW_SECONDS:
        raise InvalidToken("not_yet_valid")
    if times["exp"] <= now:
        raise InvalidToken("expired")
    if times["exp"] - times["iat"] > max_lifetime_seconds:
        raise InvalidToken("lifetime_too_long")
