"""RFC 9162 Merkle tree: published test vectors and properties over many tree sizes.

The vectors are the RFC 6962 ones every certificate-transparency implementation tests
against, taken from transparency-dev/merkle: leaves, roots and complete-subtree hashes from
``testonly/constants.go`` and the inclusion and consistency proofs from
``proof/verify_test.go`` (https://github.com/transparency-dev/merkle; the same data is in
google/certificate-transparency-go merkletree tests).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.governance import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
# RootHashes(): index = tree size.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# NodeHashes()[0]: the leaf hashes.
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# inclusionProofs in verify_test.go use a 1-based leaf number; here it is the 0-based index.
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def _h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_leaf_hashes_match_vectors() -> None:
    assert [h.hex() for h in HASHES] == LEAF_HASHES


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([]).hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_vectors(size: int) -> None:
    assert merkle.root(HASHES[:size]).hex() == ROOTS[size]
    frontier = merkle.Frontier()
    for h in HASHES[:size]:
        frontier.append(h)
    assert frontier.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_vectors(index: int, size: int, proof: list[str]) -> None:
    assert merkle.inclusion_proof(index, HASHES[:size]) == _h(proof)
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(HASHES[index], index, size, _h(proof), root)
    # The corruptions verify_test.go probes must all fail.
    bad = [
        (index - 1, size, _h(proof)),
        (index + 1, size, _h(proof)),
        (index ^ 2, size, _h(proof)),
        (index, size * 2, _h(proof)),
        (index, size // 2, _h(proof)),
        (index, size, [*_h(proof), b""]),
        (index, size, [*_h(proof), root]),
        (index, size, [b"", *_h(proof)]),
        (index, size, [root, *_h(proof)]),
    ]
    if proof:
        bad.append((index, size, _h(proof)[:-1]))
    for i, s, p in bad:
        assert not merkle.verify_inclusion(HASHES[index], i, s, p, root), (i, s)
    assert not merkle.verify_inclusion(b"WrongLeaf", index, size, _h(proof), root)
    assert not merkle.verify_inclusion(
        HASHES[index], index, size, _h(proof), bytes.fromhex(ROOTS[0])
    )


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_consistency_proofs_match_vectors(m: int, n: int, proof: list[str]) -> None:
    assert merkle.consistency_proof(m, HASHES[:n]) == _h(proof)
    r1, r2 = bytes.fromhex(ROOTS[m]), bytes.fromhex(ROOTS[n])
    assert merkle.verify_consistency(m, n, r1, r2, _h(proof))
    if not proof:
        return
    bad = [
        (m - 1, n, r1, r2, _h(proof)),
        (m + 1, n, r1, r2, _h(proof)),
        (m ^ 2, n, r1, r2, _h(proof)),
        (m, n * 2, r1, r2, _h(proof)),
        (m, n // 2, r1, r2, _h(proof)),
        (m, n, b"WrongRoot", r2, _h(proof)),
        (m, n, r1, b"WrongRoot", _h(proof)),
        (m, n, r2, r1, _h(proof)),
        (m, n, r1, r2, []),
        (m, n, r1, r2, [*_h(proof), b""]),
        (m, n, r1, r2, [*_h(proof), r1]),
        (m, n, r1, r2, [*_h(proof), r2]),
        (m, n, r1, r2, [b"", *_h(proof)]),
        (m, n, r1, r2, [r1, *_h(proof)]),
        (m, n, r1, r2, [r2, *_h(proof)]),
        (m, n, r1, r2, _h(proof)[:-1]),
    ]
    for args in bad:
        assert not merkle.verify_consistency(*args), args[:2]


def test_consistency_edge_cases() -> None:
    empty = bytes.fromhex(ROOTS[0])
    assert merkle.verify_consistency(0, 0, empty, empty, [])
    assert merkle.verify_consistency(0, 1, b"x", b"y", [])
    assert not merkle.verify_consistency(1, 1, b"x", b"y", [])
    assert not merkle.verify_consistency(1, 0, b"x", b"y", [])
    assert not merkle.verify_consistency(2, 1, b"x", b"y", [])
    assert not merkle.verify_consistency(1, 2, b"x", b"y", [])
    assert not merkle.verify_consistency(1, 1, empty, empty, [empty])


def _tree(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_every_proof_verifies_for_sizes_1_to_70() -> None:
    leaves = _tree(70)
    roots = [merkle.root(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for i in range(n):
            proof = merkle.inclusion_proof(i, leaves[:n])
            assert merkle.verify_inclusion(leaves[i], i, n, proof, roots[n]), (i, n)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, leaves[:n])
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)


def _flip(value: bytes, bit: int) -> bytes:
    b = bytearray(value)
    b[(bit // 8) % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_any_flipped_bit_breaks_an_inclusion_proof(n: int, data: st.DataObject) -> None:
    leaves = _tree(n)
    i = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(i, leaves)
    root = merkle.root(leaves)
    targets = len(proof) + 2  # each proof element, the leaf, the root
    which = data.draw(st.integers(0, targets - 1))
    bit = data.draw(st.integers(0, 255))
    leaf = leaves[i]
    if which < len(proof):
        proof[which] = _flip(proof[which], bit)
    elif which == len(proof):
        leaf = _flip(leaf, bit)
    else:
        root = _flip(root, bit)
    assert not merkle.verify_inclusion(leaf, i, n, proof, root)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 70), data=st.data())
def test_any_flipped_bit_breaks_a_consistency_proof(n: int, data: st.DataObject) -> None:
    leaves = _tree(n)
    m = data.draw(st.integers(1, n - 1))
    proof = merkle.consistency_proof(m, leaves)
    r1, r2 = merkle.root(leaves[:m]), merkle.root(leaves)
    which = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    if which < len(proof):
        proof[which] = _flip(proof[which], bit)
    elif which == len(proof):
        r1 = _flip(r1, bit)
    else:
        r2 = _flip(r2, bit)
    assert not merkle.verify_consistency(m, n, r1, r2, proof)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=16), max_size=70))
def test_frontier_root_equals_root_for_every_size(items: list[bytes]) -> None:
    leaves = [merkle.leaf_hash(x) for x in items]
    frontier = merkle.Frontier()
    assert frontier.root() == merkle.root([])
    for n, h in enumerate(leaves, start=1):
        frontier.append(h)
        assert frontier.size == n
        assert frontier.root() == merkle.root(leaves[:n])
        restored = merkle.Frontier.from_json(frontier.to_json(), frontier.size)
        assert restored.root() == frontier.root()


def test_frontier_matches_compact_tree_vectors() -> None:
    # CompactTrees() in constants.go: the right-edge hashes for sizes 0..8.
    nodes = {
        0: [],
        1: [LEAF_HASHES[0]],
        3: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", LEAF_HASHES[2]],
        7: [
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            LEAF_HASHES[6],
        ],
        8: [ROOTS[8]],
    }
    for size, expected in nodes.items():
        frontier = merkle.Frontier()
        for h in HASHES[:size]:
            frontier.append(h)
        assert [n.hex() for n in frontier.nodes] == expected


def test_frontier_rejects_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="frontier of size 3"):
        merkle.Frontier.from_json('["00"]', 3)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(3, HASHES[:3])
