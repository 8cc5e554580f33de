"""Checkpoints, signed notes and cosignatures, against the C2SP specifications' own example and an
independent verifier."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit.note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    cosign,
    parse_note,
    sign_checkpoint,
    verify_cosignature,
    verify_note,
    verify_signature,
)
from tests.audit import independent

# c2sp.org/signed-note, "Verifier keys", Example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_specifications_example_note_verifies() -> None:
    verifier = Verifier.parse(SPEC_VKEY)
    assert verifier.vkey == SPEC_VKEY
    verify_signature(parse_note(SPEC_NOTE), verifier)
    tampered = SPEC_NOTE.replace("example message", "example massage")
    with pytest.raises(NoteError):
        verify_signature(parse_note(tampered), verifier)


def test_a_vkey_whose_base64_holds_a_plus_still_parses() -> None:
    for _ in range(64):
        signer = Signer("a.example/audit", Ed25519PrivateKey.generate())
        vkey = signer.verifier.vkey
        assert Verifier.parse(vkey) == signer.verifier
        assert independent.parse_vkey(vkey)[3] == signer.verifier.public_key


def test_a_signed_checkpoint_verifies_independently() -> None:
    signer = Signer("triage.rqi.example/audit", Ed25519PrivateKey.generate())
    checkpoint = Checkpoint(signer.name, 12, bytes(range(32)))
    note = sign_checkpoint(checkpoint, signer).render()
    assert note.startswith(
        f"triage.rqi.example/audit\n12\n{base64.b64encode(bytes(range(32))).decode()}\n\n"
    )
    text = independent.verify_signed_note(note, signer.verifier.vkey)
    assert independent.checkpoint_fields(text) == (signer.name, 12, bytes(range(32)))
    assert verify_note(parse_note(note), signer.verifier) == checkpoint


def test_another_key_or_a_changed_size_does_not_verify() -> None:
    signer = Signer("a.example/audit", Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(signer.name, 3, bytes(32)), signer).render()
    impostor = Signer("a.example/audit", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        verify_note(parse_note(note), impostor.verifier)
    with pytest.raises(NoteError):
        verify_note(parse_note(note.replace("\n3\n", "\n4\n", 1)), signer.verifier)


def test_a_cosignature_verifies_independently() -> None:
    log = Signer("a.example/audit", Ed25519PrivateKey.generate())
    witness = Signer("b.example/audit/witness", Ed25519PrivateKey.generate(), COSIGNATURE_V1)
    note = sign_checkpoint(Checkpoint(log.name, 7, bytes(32)), log)
    cosigned = cosign(note, witness, 1_764_400_000).render()
    public = witness.verifier.public_key
    assert independent.verify_cosignature(cosigned, witness.name, public) == 1_764_400_000
    assert verify_cosignature(parse_note(cosigned), witness.verifier) == 1_764_400_000
    # Still the log's checkpoint, now with two signature lines.
    independent.verify_signed_note(cosigned, log.verifier.vkey)
    assert witness.verifier.vkey.split("+")[2].startswith(base64.b64encode(b"\x04").decode()[:1])
