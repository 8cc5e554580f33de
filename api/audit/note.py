"""Checkpoints as signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) and witness
cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).

A checkpoint's text is three lines: the log's origin, the tree size in decimal, the root hash in
base64. Then a blank line, then one line per signature: an em dash, a space, the key name, a space
and base64 of the 4-byte key ID and the signature. The key ID is the first four bytes of
SHA-256(name || 0x0A || type || public key): type 0x01 for a log's own Ed25519 signature over the
text, 0x04 for a cosignature, whose 8-byte big-endian time precedes the signature, over
"cosignature/v1\\ntime <time>\\n" and the text.
"""

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "
# Far more than a checkpoint with a few dozen witnesses needs; a larger answer is refused.
MAX_NOTE_BYTES = 16_384


class NoteError(ValueError):
    """A note or checkpoint that cannot be read or whose signature does not verify."""


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A public key with its name and signature type, as in a vkey."""

    name: str
    signature_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, self.public_key)

    @property
    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> "Verifier":
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not parts[0]:
            raise NoteError("a verifier key is <name>+<key id hex>+<base64 key>")
        name, hex_id, material = parts
        try:
            raw = base64.b64decode(material, validate=True)
            expected_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError("the verifier key is not hex and base64 where it should be") from None
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(name, raw[0], raw[1:])
        if verifier.key_id != expected_id:
            raise NoteError("the verifier key's ID does not match its name and key")
        return verifier


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: ed25519.Ed25519PrivateKey
    signature_type: int = ED25519

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return Verifier(self.name, self.signature_type, public)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    @property
    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[tuple[str, bytes], ...]

    def render(self) -> str:
        lines = "".join(
            f"{SIGNATURE_PREFIX}{name} {base64.b64encode(value).decode()}\n"
            for name, value in self.signatures
        )
        return f"{self.text}\n{lines}"

    def with_signature(self, name: str, value: bytes) -> "SignedNote":
        return SignedNote(self.text, (*self.signatures, (name, value)))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> SignedNote:
    signature = signer.private_key.sign(checkpoint.text.encode())
    return SignedNote(checkpoint.text, ((signer.name, signer.verifier.key_id + signature),))


def cosign(note: SignedNote, witness: Signer, timestamp: int) -> SignedNote:
    """The note with the witness's cosignature/v1 added."""
    message = f"cosignature/v1\ntime {timestamp}\n{note.text}".encode()
    signature = witness.private_key.sign(message)
    value = witness.verifier.key_id + struct.pack(">Q", timestamp) + signature
    return note.with_signature(witness.name, value)


def parse_note(document: str) -> SignedNote:
    if len(document.encode()) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    if any(ord(char) < 0x20 and char != "\n" for char in document):
        raise NoteError("the note has control characters")
    split_at = document.rfind("\n\n")
    if split_at < 0 or not document.endswith("\n"):
        raise NoteError("the note has no signature lines")
    text, block = document[: split_at + 1], document[split_at + 2 :]
    signatures: list[tuple[str, bytes]] = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line does not start with an em dash")
        name, _, value = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if not name or len(raw) < 5:
            raise NoteError("a signature line has no name or no signature")
        signatures.append((name, raw))
    if not signatures:
        raise NoteError("the note has no signature lines")
    return SignedNote(text, tuple(signatures))


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise NoteError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("the checkpoint's size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise NoteError("the checkpoint's root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def verify_signature(note: SignedNote, verifier: Verifier) -> None:
    """Raise unless `verifier` (type 0x01) signed the note's text."""
    matching = [
        value
        for name, value in note.signatures
        if name == verifier.name and value[:4] == verifier.key_id
    ]
    if not matching:
        raise NoteError("the note is not signed by the expected key")
    public = ed25519.Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for value in matching:
        try:
            public.verify(value[4:], note.text.encode())
        except InvalidSignature:
            raise NoteError("the note's signature does not verify") from None


def verify_note(note: SignedNote, verifier: Verifier) -> Checkpoint:
    """The checkpoint the note carries, if `verifier` (the log's key) signed it."""
    verify_signature(note, verifier)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != verifier.name:
        raise NoteError("the checkpoint's origin is not its key's name")
    return checkpoint


def verify_cosignature(note: SignedNote, witness: Verifier) -> int:
    """The time the witness cosigned the note at, if it did."""
    for name, value in note.signatures:
        if name != witness.name or value[:4] != witness.key_id or len(value) != 4 + 8 + 64:
            continue
        (timestamp,) = struct.unpack(">Q", value[4:12])
        message = f"cosignature/v1\ntime {timestamp}\n{note.text}".encode()
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                value[12:], message
            )
        except InvalidSignature:
            raise NoteError("the cosignature does not verify") from None
        return int(timestamp)
    raise NoteError("the note has no cosignature by that witness")
