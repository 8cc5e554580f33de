"""Our tokens' verification keeps every check when a token's signature has been verified before."""

import time
import uuid
from pathlib import Path

import pytest

from auth.access_token import VERIFIED_TOKENS_KEPT, TokenAuthority
from auth.errors import InvalidToken
from auth.keys import load_signing_keys, new_signing_jwk, write_private_jwks
from models import Role, Scope

LIFETIME = 300


def authority(directory: Path, kid: str = "key-1") -> TokenAuthority:
    path = directory / f"{uuid.uuid4()}.json"
    write_private_jwks(path, [new_signing_jwk(kid)])
    return TokenAuthority(
        keys=load_signing_keys(path), issuer="https://triage.test", audience="triage-api"
    )


def issue(tokens: TokenAuthority, now: int) -> str:
    token, _ = tokens.issue(
        user_id=uuid.uuid4(),
        role=Role.officer,
        organisation_code="NSP",
        purpose="street-triage",
        scopes=[Scope.incident_open],
        incident_id=None,
        lifetime_seconds=LIFETIME,
        actor={"sub": "officer"},
        now=now,
    )
    return token


def test_a_token_verified_before_still_expires(tmp_path: Path) -> None:
    tokens = authority(tmp_path)
    now = int(time.time())
    token = issue(tokens, now)
    assert tokens.verify(token, now=now).organisation_code == "NSP"
    assert tokens.verify(token, now=now + 10).organisation_code == "NSP"
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(token, now=now + LIFETIME)
    assert refused.value.reason == "expired"


def test_a_token_verified_before_is_refused_once_its_key_is_no_longer_trusted(
    tmp_path: Path,
) -> None:
    tokens = authority(tmp_path)
    now = int(time.time())
    token = issue(tokens, now)
    tokens.verify(token, now=now)
    tokens.keys.keys.clear()
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(token, now=now)
    assert refused.value.reason == "kid_unknown"


def test_a_token_verified_before_is_checked_again_under_a_replaced_key(tmp_path: Path) -> None:
    """The same kid now names another key: the signature is checked against it, and fails."""
    tokens = authority(tmp_path)
    now = int(time.time())
    token = issue(tokens, now)
    tokens.verify(token, now=now)
    tokens.keys.keys.update(authority(tmp_path).keys.keys)  # same kid, another key
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=now)


def test_a_changed_token_is_never_taken_for_a_verified_one(tmp_path: Path) -> None:
    tokens = authority(tmp_path)
    now = int(time.time())
    token = issue(tokens, now)
    tokens.verify(token, now=now)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{payload}.{flipped}", now=now)


def test_the_verified_tokens_kept_are_bounded(tmp_path: Path) -> None:
    tokens = authority(tmp_path)
    now = int(time.time())
    first = issue(tokens, now)
    tokens.verify(first, now=now)
    for _ in range(VERIFIED_TOKENS_KEPT):
        tokens.verify(issue(tokens, now), now=now)
    assert len(tokens._verified) == VERIFIED_TOKENS_KEPT
    assert first not in tokens._verified
    assert tokens.verify(first, now=now).organisation_code == "NSP"
