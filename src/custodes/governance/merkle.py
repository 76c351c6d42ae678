"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and verification.

The audit log is only as trustworthy as the maths under it, so this module follows
RFC 9162 section 2.1 to the letter: leaves and interior nodes are hashed with distinct
prefixes (0x00 / 0x01) so a leaf can never be passed off as a node, the tree splits at
the largest power of two below ``n``, and the verifiers are the RFC's own iterative
algorithms (2.1.3.2 and 2.1.4.2) rather than a re-derivation, so an auditor can check
them line by line. Everything works on 32-byte SHA-256 digests; hex is for storage only.

:class:`Frontier` keeps just the right edge of the tree (one hash per set bit of the
size), which is what lets the log append in O(log n) without rereading old entries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

#: MTH({}) = SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already-hashed leaves.

    Built level by level, carrying an unpaired last node up unchanged: that is the same
    tree as the RFC's recursive split and costs O(n) without deep recursion.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index``, bottom-up (RFC 9162 2.1.3.1)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of size {n}")
    proof: list[bytes] = []
    level = list(leaf_hashes)
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        nxt = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i >>= 1
    return proof


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree of the first ``m`` leaves is a prefix of this one."""
    n = len(leaf_hashes)
    if not 0 <= m <= n:
        raise ValueError(f"size {m} is outside 0..{n}")
    if m in (0, n):
        return []
    return _subproof(m, leaf_hashes, True)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` place ``leaf_hash`` at ``index`` under ``root``?"""
    if index < 0 or index >= tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree of size ``m`` with ``root_m`` a prefix of ``root_n``?"""
    if m < 0 or m > n:
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is an exact power of two
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n


class Frontier:
    """The right edge of a Merkle tree: the roots of its maximal complete subtrees.

    A tree of size n is a sequence of perfect subtrees, one per set bit of n, largest
    first. Appending a leaf merges equal-sized subtrees like a binary counter carries,
    so both ``append`` and ``root`` are O(log n) and the state fits in one small row.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or size.bit_count() != len(nodes):
            raise ValueError(
                f"a frontier of size {size} has {size.bit_count()} nodes, not {len(nodes)}"
            )
        self._size = size
        self._nodes = list(nodes)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def nodes(self) -> list[bytes]:
        """Subtree roots from the largest (leftmost) to the smallest."""
        return list(self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one already-hashed leaf on the right."""
        h, s = leaf_hash, self._size
        while s & 1:
            h = node_hash(self._nodes.pop(), h)
            s >>= 1
        self._nodes.append(h)
        self._size += 1

    def root(self) -> bytes:
        """MTH of all leaves appended so far."""
        if not self._nodes:
            return EMPTY_ROOT
        r = self._nodes[-1]
        for left in reversed(self._nodes[:-1]):
            r = node_hash(left, r)
        return r

    def copy(self) -> Frontier:
        """An independent frontier with the same state."""
        return Frontier(self._size, self._nodes)

    def to_json(self) -> str:
        """The subtree roots as a JSON list of hex strings (the size is stored beside it)."""
        return json.dumps([n.hex() for n in self._nodes])

    @classmethod
    def from_json(cls, text: str, size: int) -> Frontier:
        """Rebuild from :meth:`to_json` output and the tree size it belongs to."""
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ValueError("a frontier is a JSON list of hex strings")
        return cls(size, [bytes.fromhex(x) for x in data])
