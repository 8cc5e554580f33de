"""The Merkle tree of the audit log, in RFC 9162 hashing (section 2.1), and its proofs.

Leaf hash SHA-256(0x00 || entry), interior node SHA-256(0x01 || left || right), the empty tree
SHA-256(""). A tree of n leaves splits at k, the largest power of two below n.

The tree is kept as its perfect subtrees: the node at (level, index) covers the leaves
[index * 2^level, (index + 1) * 2^level). Every hash a proof needs is such a node or a fold of a
few of them, so proofs are computed from stored nodes, never from the whole log. Functions that
need nodes take a `NodeSource`; `needed_nodes` tells a caller which to fetch, in one query, first.
"""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

Node = tuple[int, int]
NodeSource = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """k: the largest power of two smaller than `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def range_hash(nodes: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range whose every left part is a whole subtree, as every range
    the RFC's recursion visits is."""
    if end == start:
        return EMPTY_ROOT
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        return nodes(size.bit_length() - 1, start // size)
    k = split(size)
    return node_hash(range_hash(nodes, start, start + k), range_hash(nodes, start + k, end))


def inclusion_path(nodes: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 2.1.3.1), from the leaf's sibling up."""
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(range_hash(nodes, start + k, end))
            end = start + k
        else:
            path.append(range_hash(nodes, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(nodes: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) (RFC 9162 2.1.4.1); empty when first is 0 or equals second."""
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, whole = 0, second, True
    m = first
    while True:
        if m == end - start:
            if not whole:
                proof.append(range_hash(nodes, start, end))
            break
        k = split(end - start)
        if m <= k:
            proof.append(range_hash(nodes, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(nodes, start, start + k))
            start += k
            m -= k
            whole = False
    proof.reverse()
    return proof


def needed_nodes(compute: Callable[[NodeSource], object]) -> set[Node]:
    """The nodes `compute` reads: it is run once against placeholders, which it never inspects."""
    wanted: set[Node] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(32)

    compute(record)
    return wanted


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, with the trivial cases: an empty first tree, equal sizes."""
    if first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


@dataclass
class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending a leaf completes the subtrees it closes; `append` returns them, as (level, index,
    hash), for the caller to store."""

    size: int = 0
    edge: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, nodes: NodeSource, size: int) -> "Frontier":
        """The frontier of a tree of `size` leaves, from its stored nodes."""
        edge: list[tuple[int, bytes]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size & (1 << level):
                edge.append((level, nodes(level, start >> level)))
                start += 1 << level
        return cls(size=size, edge=edge)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        self.edge.append((0, leaf))
        completed: list[tuple[int, int, bytes]] = []
        while len(self.edge) > 1 and self.edge[-1][0] == self.edge[-2][0]:
            level, right = self.edge.pop()
            _, left = self.edge.pop()
            merged = node_hash(left, right)
            self.edge.append((level + 1, merged))
            completed.append((level + 1, index >> (level + 1), merged))
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        completed: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            completed += self.append(leaf)
        return completed

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        result = self.edge[-1][1]
        for _, left in reversed(self.edge[:-1]):
            result = node_hash(left, result)
        return result
