"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs for the audit log.

Leaves and interior nodes are hashed with distinct prefixes (0x00, 0x01) so a
leaf can never be passed off as a subtree, and the tree shape for n leaves is
the RFC's: split at the largest power of two strictly below n. Roots and
proofs therefore agree with every Certificate Transparency implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# Proofs for trees of up to 2**64 leaves never exceed 2 * 64 hashes.
_MAX_PROOF_LENGTH = 128

# keep_recent_only keeps levels from this height up whole: 64 / 2**8 bytes per leaf
KEPT_HEIGHT = 8
# what the services' long-lived trees keep whole: 65 checkpoints of 1,000 entries, about 5 MB
RECENT_LEAVES = 1 << 16

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """Largest power of two strictly smaller than size (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash of the leaves, built level by level.

    Carrying an unpaired last node up unchanged yields exactly the RFC 6962
    left-heavy tree, without recursion.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha256, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        pairs = iter(level)
        parents = [sha256(prefix + left + right).digest() for left, right in zip(pairs, pairs)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


class PrunedHashes(LookupError):
    """The tree no longer holds the hashes this asks for (keep_recent_only): rebuild it from the stored leaves."""


class MerkleTree:
    """Append-only tree keeping every complete subtree hash.

    Level h holds the hashes of the aligned subtrees of 2**h leaves, packed in
    one bytearray, so the tree costs about 64 bytes per leaf. Any past root and
    any RFC proof is assembled from at most O(log^2 n) stored hashes.

    A long-lived tree may keep its lowest levels for its recent leaves only
    (keep_recent_only): what it still holds then costs a quarter of a byte per
    leaf, and a root, leaf or proof reaching further back raises PrunedHashes.
    """

    __slots__ = ("_levels", "_size", "_first", "_keep_recent")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._first: list[int] = [0]  # per level, the index of the first hash held
        self._size = 0
        self._keep_recent: int | None = None
        self.extend(leaf_hashes)

    def __len__(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        index = self._size
        levels = self._levels
        levels[0] += leaf
        self._size = count = index + 1
        height = 0
        while not count & 1:
            level = levels[height]
            parent = _sha256(_NODE_PREFIX + level[-64:]).digest()
            height += 1
            if height == len(levels):
                levels.append(bytearray())
                self._first.append(0)
            levels[height] += parent
            count >>= 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf in leaf_hashes:
            self.append(leaf)
        if self._keep_recent is not None:
            self._prune()

    def keep_recent_only(self, leaves: int) -> None:
        """From now on, hold the levels below KEPT_HEIGHT for about the last `leaves` leaves only: every root and
        proof from a size that recent on, and every recent leaf, stay available; the rest raise PrunedHashes."""
        if leaves < 4 << KEPT_HEIGHT:
            raise ValueError(f"keep at least {4 << KEPT_HEIGHT} recent leaves, not {leaves}")
        self._keep_recent = leaves
        self._prune()

    @property
    def first_held(self) -> int:
        """The first leaf whose hash the tree still holds."""
        return self._first[0]

    @property
    def held_bytes(self) -> int:
        return sum(len(level) for level in self._levels)

    def _prune(self) -> None:
        assert self._keep_recent is not None
        # cut at a multiple of 2**KEPT_HEIGHT, so every level below keeps whole subtrees; cut in steps, not per leaf
        cut = max(0, self._size - self._keep_recent) >> KEPT_HEIGHT << KEPT_HEIGHT
        if cut - self._first[0] < self._keep_recent // 4:
            return
        for height in range(min(KEPT_HEIGHT, len(self._levels))):
            first = cut >> height
            del self._levels[height][: (first - self._first[height]) * HASH_SIZE]
            self._first[height] = first

    def leaf(self, index: int) -> bytes:
        self._check_index(index, self._size)
        return self._stored(0, index)

    def root(self) -> bytes:
        return self.root_at(self._size)

    def root_at(self, size: int) -> bytes:
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf `index` in the tree of `size` leaves (RFC 6962 2.1.1)."""
        size = self._size if size is None else size
        self._check_size(size)
        self._check_index(index, size)
        proof: list[bytes] = []
        low, high = 0, size
        while high - low > 1:
            middle = low + split_point(high - low)
            if index < middle:
                proof.append(self._range_hash(middle, high))
                high = middle
            else:
                proof.append(self._range_hash(low, middle))
                low = middle
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of `old_size` leaves is a prefix of `new_size` (RFC 6962 2.1.2)."""
        new_size = self._size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} is not within 0..{new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        low, high, remaining, whole_old_tree = 0, new_size, old_size, True
        while remaining != high - low:
            middle = low + split_point(high - low)
            if low + remaining <= middle:
                proof.append(self._range_hash(middle, high))
                high = middle
            else:
                proof.append(self._range_hash(low, middle))
                remaining -= middle - low
                low = middle
                whole_old_tree = False
        if not whole_old_tree:
            proof.append(self._range_hash(low, high))
        proof.reverse()
        return proof

    def _range_hash(self, start: int, end: int) -> bytes:
        # Ranges reached by the RFC recursion decompose into aligned complete
        # subtrees of decreasing size; their hashes fold from the right.
        subtrees: list[bytes] = []
        while start < end:
            height = (end - start).bit_length() - 1
            subtrees.append(self._stored(height, start >> height))
            start += 1 << height
        result = subtrees.pop()
        while subtrees:
            result = node_hash(subtrees.pop(), result)
        return result

    def _stored(self, height: int, index: int) -> bytes:
        first = self._first[height]
        if index < first:
            raise PrunedHashes(f"the hashes of leaves before {self._first[0]} are no longer held in memory")
        offset = (index - first) * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is not within 0..{self._size}")

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is not within 0..{size - 1}")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or not _well_formed(proof) or len(leaf) != HASH_SIZE:
        return False
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2; the empty tree's only root is EMPTY_ROOT."""
    if not 0 <= old_size <= new_size or not _well_formed(proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(sibling, first)
            second = node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


def _well_formed(proof: Sequence[bytes]) -> bool:
    return len(proof) <= _MAX_PROOF_LENGTH and all(len(node) == HASH_SIZE for node in proof)
