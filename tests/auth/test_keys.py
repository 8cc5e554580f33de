"""Our signing key file: EC P-256 private keys only, unique kids, a named active key."""

import json
from pathlib import Path
from typing import Any

import pytest

from auth.keys import KeyFileError, load_signing_keys, new_signing_jwk, write_private_jwks
from tests.identity_provider import IdentityProvider


def write(tmp_path: Path, keys: list[dict[str, Any]]) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


def test_rotation_set_publishes_all_and_signs_with_the_chosen(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_private_jwks(path, [new_signing_jwk("old"), new_signing_jwk("new")])
    assert path.stat().st_mode & 0o777 == 0o600
    keys = load_signing_keys(path, active_kid="new")
    assert keys.active.kid == "new"
    assert [key["kid"] for key in keys.public_jwks()["keys"]] == ["old", "new"]
    assert all("d" not in key for key in keys.public_jwks()["keys"])
    assert keys.verification_key("old") is not None
    assert keys.verification_key("nope") is None


def test_public_only_key_is_refused(tmp_path: Path) -> None:
    public = {k: v for k, v in new_signing_jwk("k").items() if k != "d"}
    with pytest.raises(KeyFileError, match="has no private part"):
        load_signing_keys(write(tmp_path, [public]))


def test_rsa_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="must be an EC P-256 key"):
        load_signing_keys(write(tmp_path, [IdentityProvider.generate().public_jwk]))


def test_duplicate_kid_and_unknown_active_kid_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="duplicate kid 'k'"):
        load_signing_keys(write(tmp_path, [new_signing_jwk("k"), new_signing_jwk("k")]))
    with pytest.raises(KeyFileError, match="no key with kid 'missing'"):
        load_signing_keys(write(tmp_path, [new_signing_jwk("k")]), active_kid="missing")


def test_unreadable_or_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_signing_keys(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(KeyFileError, match="is not JSON"):
        load_signing_keys(tmp_path / "bad.json")
    with pytest.raises(KeyFileError, match="at least one key"):
        load_signing_keys(write(tmp_path, []))
