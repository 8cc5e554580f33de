"""The audit log's Ed25519 keys live in the signing key file beside the token keys, which are
loaded exactly as before."""

import json
from pathlib import Path

import pytest

from api.audit.sealer import load_log_keys_for
from auth.keys import (
    CHECKPOINT_USE,
    COSIGN_USE,
    KeyFileError,
    add_missing_log_keys,
    load_log_keys,
    load_signing_keys,
    new_log_jwk,
    new_signing_jwk,
    write_private_jwks,
)


def test_token_keys_load_as_before_beside_log_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_private_jwks(
        path,
        [new_log_jwk(CHECKPOINT_USE, "log"), new_signing_jwk("tok"), new_log_jwk(COSIGN_USE, "w")],
    )
    tokens = load_signing_keys(path)
    assert list(tokens.keys) == ["tok"]
    assert tokens.active_kid == "tok"
    assert [key["kid"] for key in tokens.public_jwks()["keys"]] == ["tok"]
    assert [(key.kid, key.use) for key in load_log_keys(path)] == [
        ("log", CHECKPOINT_USE),
        ("w", COSIGN_USE),
    ]
    keys = load_log_keys_for(path, "a.example/audit", "a.example/witness")
    assert keys.origin == "a.example/audit"
    assert keys.cosigner is not None
    assert keys.cosigner.verifier.public_key != keys.signer.verifier.public_key


def test_a_file_without_a_checkpoint_key_is_refused_and_can_be_completed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_private_jwks(path, [new_signing_jwk("tok")])
    with pytest.raises(KeyFileError, match="audit-checkpoint"):
        load_log_keys_for(path, "a.example/audit", "a.example/witness")
    add_missing_log_keys(path)
    add_missing_log_keys(path)  # once only
    assert sorted(key.use for key in load_log_keys(path)) == [CHECKPOINT_USE, COSIGN_USE]
    assert list(load_signing_keys(path).keys) == ["tok"]


def test_a_log_key_with_another_use_or_a_mismatched_public_part_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    wrong_use = new_log_jwk(CHECKPOINT_USE) | {"use": "sig"}
    write_private_jwks(path, [new_signing_jwk(), wrong_use])
    with pytest.raises(KeyFileError, match="use"):
        load_log_keys(path)
    mismatched = new_log_jwk(CHECKPOINT_USE) | {"x": new_log_jwk(CHECKPOINT_USE)["x"]}
    path.write_text(json.dumps({"keys": [new_signing_jwk(), mismatched]}))
    with pytest.raises(KeyFileError, match="does not match"):
        load_log_keys(path)
