"""An implementation of RFC 9162 hashing and proof checking, and of C2SP note signatures, written
from the specifications over hashlib and `cryptography` alone, to check the product's against."""

import base64
import hashlib
import struct
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf entries (RFC 9162 2.1.1)."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00", leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha(b"\x01", mth(leaves[:k]), mth(leaves[k:]))


def split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def root_from_inclusion(entry: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root a leaf and its audit path lead to, by the recursion that defines PATH."""

    def walk(m: int, n: int, hashes: Sequence[bytes]) -> bytes:
        if n == 1:
            assert not hashes, "path too long"
            return sha(b"\x00", entry)
        assert hashes, "path too short"
        k, sibling = split(n), hashes[-1]
        if m < k:
            return sha(b"\x01", walk(m, k, hashes[:-1]), sibling)
        return sha(b"\x01", sibling, walk(m - k, n - k, hashes[:-1]))

    assert 0 <= index < size
    return walk(index, size, path)


def roots_from_consistency(
    first: int, second: int, first_root: bytes, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """(old root, new root) a consistency proof leads to, by the recursion defining SUBPROOF."""

    def walk(m: int, n: int, hashes: Sequence[bytes], whole: bool) -> tuple[bytes, bytes]:
        if m == n:
            if whole:
                assert not hashes, "path too long"
                return first_root, first_root
            assert len(hashes) == 1, "path of the wrong length"
            return hashes[0], hashes[0]
        assert hashes, "path too short"
        k, last = split(n), hashes[-1]
        if m <= k:
            old, new = walk(m, k, hashes[:-1], whole)
            return old, sha(b"\x01", new, last)
        old, new = walk(m - k, n - k, hashes[:-1], False)
        return sha(b"\x01", last, old), sha(b"\x01", last, new)

    assert 0 < first < second
    return walk(first, second, path, True)


def parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """(name, key ID, signature type, public key), with the key ID checked."""
    name, key_id_hex, material = vkey.strip().split("+", 2)
    raw = base64.b64decode(material)
    key_id = bytes.fromhex(key_id_hex)
    assert sha(name.encode(), b"\n", raw)[:4] == key_id
    return name, key_id, raw[0], raw[1:]


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    text, _, block = note.rpartition("\n\n")
    lines = [line.split(" ") for line in block.strip("\n").split("\n")]
    assert all(parts[0] == "\u2014" and len(parts) == 3 for parts in lines)
    return text + "\n", [(parts[1], base64.b64decode(parts[2])) for parts in lines]


def verify_signed_note(note: str, vkey: str) -> str:
    """The note's text, if the vkey's key (type 0x01) signed it; raises otherwise."""
    name, key_id, kind, public = parse_vkey(vkey)
    assert kind == 0x01
    text, signatures = split_note(note)
    ours = [value for signer, value in signatures if signer == name and value[:4] == key_id]
    assert ours, "not signed by that key"
    Ed25519PublicKey.from_public_bytes(public).verify(ours[0][4:], text.encode())
    return text


def verify_cosignature(note: str, name: str, public: bytes) -> int:
    """The time a cosignature/v1 (type 0x04) by this key carries, if it verifies."""
    key_id = sha(name.encode(), b"\n\x04", public)[:4]
    text, signatures = split_note(note)
    value = next(value for signer, value in signatures if signer == name and value[:4] == key_id)
    (timestamp,) = struct.unpack(">Q", value[4:12])
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
    Ed25519PublicKey.from_public_bytes(public).verify(value[12:], message)
    return int(timestamp)


def checkpoint_fields(text: str) -> tuple[str, int, bytes]:
    origin, size, root, rest = text.split("\n", 3)
    assert rest == ""
    return origin, int(size), base64.b64decode(root)
