"""The log's tree and proofs against an independent RFC 9162 implementation over hashlib."""

import hashlib

import pytest

from api.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
    needed_nodes,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.audit import independent

ENTRIES = [f"event {n}".encode() for n in range(70)]


def stored_nodes(entries: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree's hash, as the sealer stores them, built by the frontier."""
    frontier = Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for index, entry in enumerate(entries):
        nodes[(0, index)] = leaf_hash(entry)
        for level, node_index, value in frontier.append(leaf_hash(entry)):
            nodes[(level, node_index)] = value
    return nodes


NODES = stored_nodes(ENTRIES)


def source(level: int, index: int) -> bytes:
    return NODES[(level, index)]


def test_hashing_is_rfc_9162() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == independent.mth([])


@pytest.mark.parametrize("size", range(0, 70))
def test_the_frontier_root_is_the_tree_hash_at_every_size(size: int) -> None:
    frontier = Frontier()
    frontier.extend(leaf_hash(entry) for entry in ENTRIES[:size])
    assert frontier.root() == independent.mth(ENTRIES[:size])
    # Rebuilt from stored nodes, as the sealer resumes, it is the same.
    assert Frontier.of(source, size).root() == frontier.root()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 64, 70])
def test_inclusion_paths_verify_independently(size: int) -> None:
    root = independent.mth(ENTRIES[:size])
    for index in range(size):
        path = inclusion_path(source, index, size)
        assert independent.root_from_inclusion(ENTRIES[index], index, size, path) == root
        assert verify_inclusion(leaf_hash(ENTRIES[index]), index, size, path, root)
        assert not verify_inclusion(leaf_hash(b"forged"), index, size, path, root)
        if path:
            assert not verify_inclusion(leaf_hash(ENTRIES[index]), index, size, path[:-1], root)


def test_consistency_paths_verify_independently() -> None:
    for second in range(1, 40):
        second_root = independent.mth(ENTRIES[:second])
        for first in range(1, second):
            first_root = independent.mth(ENTRIES[:first])
            path = consistency_path(source, first, second)
            assert independent.roots_from_consistency(first, second, first_root, path) == (
                first_root,
                second_root,
            )
            assert verify_consistency(first, second, first_root, second_root, path)
            # A rewritten earlier tree is not consistent with the later one.
            forged = independent.mth([b"rewritten", *ENTRIES[1:first]])
            assert not verify_consistency(first, second, forged, second_root, path)


def test_a_shrunk_tree_is_never_consistent() -> None:
    assert not verify_consistency(
        5, 4, independent.mth(ENTRIES[:5]), independent.mth(ENTRIES[:4]), []
    )


def test_needed_nodes_are_few_and_enough() -> None:
    wanted = needed_nodes(lambda nodes: inclusion_path(nodes, 37, 70))
    assert len(wanted) <= 2 * 7
    only = {node: NODES[node] for node in wanted}
    assert inclusion_path(lambda level, index: only[(level, index)], 37, 70) == inclusion_path(
        source, 37, 70
    )
