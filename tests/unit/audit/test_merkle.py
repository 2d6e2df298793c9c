import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.domain.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    PrunedHashes,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    split_point,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.unit

# Certificate Transparency reference vectors, as published in
# transparency-dev/merkle (testonly/constants.go, proof/verify_test.go).
CT_LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
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
CT_INCLUSION = [  # (index, size, proof); the Go vectors number leaves from 1
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


# Straight transcriptions of the RFC 6962 recursive definitions, as an oracle.
def reference_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split_point(len(leaves))
    if index < k:
        return reference_path(index, leaves[:k]) + [reference_root(leaves[k:])]
    return reference_path(index - k, leaves[k:]) + [reference_root(leaves[:k])]


def reference_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [reference_root(leaves)]
    k = split_point(len(leaves))
    if m <= k:
        return reference_subproof(m, leaves[:k], whole) + [reference_root(leaves[k:])]
    return reference_subproof(m - k, leaves[k:], False) + [reference_root(leaves[:k])]


def synthetic_leaves(count: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(count)]


def ct_tree() -> MerkleTree:
    return MerkleTree(leaf_hash(data) for data in CT_LEAF_INPUTS)


def test_leaf_and_node_hashes_use_rfc6962_domain_separation():
    left, right = b"\x11" * 32, b"\x22" * 32
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert leaf_hash(left + right) != node_hash(left, right)


def test_empty_tree_root_is_sha256_of_nothing():
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_match_certificate_transparency_vectors(size):
    leaves = [leaf_hash(data) for data in CT_LEAF_INPUTS[:size]]
    assert root_from_leaf_hashes(leaves).hex() == CT_ROOTS[size]
    assert MerkleTree(leaves).root().hex() == CT_ROOTS[size]
    assert ct_tree().root_at(size).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_proofs_match_certificate_transparency_vectors(index, size, proof):
    tree = ct_tree()
    expected = [bytes.fromhex(h) for h in proof]
    assert tree.inclusion_proof(index, size) == expected
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(leaf_hash(CT_LEAF_INPUTS[index]), index, size, expected, root)


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_certificate_transparency_vectors(old_size, new_size, proof):
    tree = ct_tree()
    expected = [bytes.fromhex(h) for h in proof]
    assert tree.consistency_proof(old_size, new_size) == expected
    old_root, new_root = bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[new_size])
    assert verify_consistency(old_size, new_size, old_root, new_root, expected)


def test_split_point_is_the_largest_power_of_two_below_the_size():
    expected = {2: 1, 3: 2, 4: 2, 5: 4, 8: 4, 9: 8, 1000: 512, 2**40: 2**39, 2**63 + 1: 2**63}
    assert {n: split_point(n) for n in expected} == expected


def test_inclusion_proof_verifies_for_every_leaf_of_trees_up_to_64():
    leaves = synthetic_leaves(64)
    tree = MerkleTree(leaves)
    for size in range(1, 65):
        root = reference_root(leaves[:size])
        assert tree.root_at(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == reference_path(index, leaves[:size])
            assert verify_inclusion(leaves[index], index, size, proof, root)


def test_consistency_proof_verifies_for_every_pair_of_sizes_up_to_64():
    leaves = synthetic_leaves(64)
    tree = MerkleTree(leaves)
    for new_size in range(1, 65):
        new_root = tree.root_at(new_size)
        for old_size in range(1, new_size + 1):
            proof = tree.consistency_proof(old_size, new_size)
            if old_size < new_size:
                assert proof == reference_subproof(old_size, leaves[:new_size], True)
            assert verify_consistency(old_size, new_size, tree.root_at(old_size), new_root, proof)


def test_inclusion_verification_rejects_every_corruption_of_a_valid_proof():
    leaves = synthetic_leaves(13)
    tree = MerkleTree(leaves)
    root = tree.root()
    for index in range(13):
        proof = tree.inclusion_proof(index)
        leaf = leaves[index]
        wrong = [
            (leaf, index - 1, 13, proof, root),
            (leaf, index + 1, 13, proof, root),
            (leaf, index ^ 2, 13, proof, root),
            (leaf, index, 26, proof, root),
            (leaf, index, 6, proof, root),
            (leaves[(index + 1) % 13], index, 13, proof, root),
            (leaf, index, 13, proof, EMPTY_ROOT),
            (leaf, index, 13, [*proof, root], root),
            (leaf, index, 13, [root, *proof], root),
            (leaf, index, 13, proof[:-1], root),
            (leaf, index, 13, [*proof[:-1], b"\x00" * 31], root),
        ]
        for position in range(len(proof)):
            flipped = bytearray(proof[position])
            flipped[0] ^= 8
            wrong.append((leaf, index, 13, [*proof[:position], bytes(flipped), *proof[position + 1:]], root))
        assert verify_inclusion(leaf, index, 13, proof, root)
        assert not any(verify_inclusion(*args) for args in wrong)


def test_consistency_verification_rejects_every_corruption_of_a_valid_proof():
    leaves = synthetic_leaves(21)
    tree = MerkleTree(leaves)
    for old_size in range(1, 21):
        old_root, new_root = tree.root_at(old_size), tree.root()
        proof = tree.consistency_proof(old_size)
        wrong = [
            (old_size - 1, 21, old_root, new_root, proof),
            (old_size + 1, 21, old_root, new_root, proof),
            (old_size, 42, old_root, new_root, proof),
            (old_size, 10, old_root, new_root, proof),
            (old_size, 21, new_root, old_root, proof),
            (old_size, 21, EMPTY_ROOT, new_root, proof),
            (old_size, 21, old_root, EMPTY_ROOT, proof),
            (old_size, 21, old_root, new_root, []),
            (old_size, 21, old_root, new_root, [*proof, old_root]),
            (old_size, 21, old_root, new_root, [new_root, *proof]),
            (old_size, 21, old_root, new_root, [proof[0], *proof]),
            (old_size, 21, old_root, new_root, proof[:-1]),
        ]
        for position in range(len(proof)):
            flipped = bytearray(proof[position])
            flipped[0] ^= 16
            wrong.append((old_size, 21, old_root, new_root, [*proof[:position], bytes(flipped), *proof[position + 1:]]))
        assert verify_consistency(old_size, 21, old_root, new_root, proof)
        assert not any(verify_consistency(*args) for args in wrong), old_size


def test_consistency_proof_rejects_rewritten_history():
    honest = synthetic_leaves(40)
    rewritten = list(honest)
    rewritten[7] = leaf_hash(b"quietly changed")
    old = MerkleTree(honest[:25])
    forged = MerkleTree(rewritten)
    proof = forged.consistency_proof(25, 40)
    assert not verify_consistency(25, 40, old.root(), forged.root(), proof)
    assert verify_consistency(25, 40, forged.root_at(25), forged.root(), proof)


def test_trivial_consistency_cases_need_an_empty_proof_and_matching_roots():
    root = MerkleTree(synthetic_leaves(5)).root()
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, root, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, EMPTY_ROOT, [])
    assert not verify_consistency(5, 5, root, root, [root])
    assert not verify_consistency(6, 5, root, root, [])


def test_single_leaf_tree_has_the_leaf_as_root_and_an_empty_audit_path():
    leaf = leaf_hash(b"only")
    assert MerkleTree([leaf]).root() == leaf
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], EMPTY_ROOT)
    assert not verify_inclusion(leaf, 1, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 0, [], leaf)


def test_past_roots_stay_available_while_the_tree_grows():
    leaves = synthetic_leaves(100)
    tree = MerkleTree()
    seen = []
    for leaf in leaves:
        assert tree.append(leaf) == len(seen)
        seen.append(tree.root())
    assert [tree.root_at(size) for size in range(1, 101)] == seen
    assert tree.leaf(42) == leaves[42]


def test_tree_refuses_malformed_leaves_and_out_of_range_requests():
    tree = MerkleTree(synthetic_leaves(4))
    with pytest.raises(ValueError):
        tree.append(b"short")
    with pytest.raises(ValueError):
        tree.root_at(5)
    with pytest.raises(IndexError):
        tree.inclusion_proof(4, 4)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 5)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)


def test_root_of_a_million_leaves_is_computed_well_within_ten_seconds():
    # A million copies of one leaf has a root computable from its binary digits.
    leaf = leaf_hash(b"same")
    size = 1_000_000
    subtree, powers = leaf, []
    for _ in range(size.bit_length()):
        powers.append(subtree)
        subtree = node_hash(subtree, subtree)
    parts = [powers[bit] for bit in reversed(range(size.bit_length())) if size >> bit & 1]
    expected = parts.pop()
    while parts:
        expected = node_hash(parts.pop(), expected)

    started = time.process_time()
    root = root_from_leaf_hashes([leaf] * size)
    elapsed = time.process_time() - started

    assert root == expected
    assert elapsed < 5


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=300), salt=st.binary(max_size=4))
def test_tree_root_equals_rfc_definition_for_random_sizes(size, salt):
    leaves = synthetic_leaves(size, salt)
    expected = reference_root(leaves)
    assert root_from_leaf_hashes(leaves) == expected
    assert MerkleTree(leaves).root() == expected


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=600))
def test_random_inclusion_and_consistency_proofs_verify(data, size):
    leaves = synthetic_leaves(size)
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    at_size = data.draw(st.integers(min_value=index + 1, max_value=size))
    old_size = data.draw(st.integers(min_value=0, max_value=size))
    assert verify_inclusion(leaves[index], index, at_size, tree.inclusion_proof(index, at_size), tree.root_at(at_size))
    proof = tree.consistency_proof(old_size, size)
    assert verify_consistency(old_size, size, tree.root_at(old_size), tree.root(), proof)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=300))
def test_consistency_proof_never_verifies_after_any_leaf_below_the_old_size_changes(data, size):
    old_size = data.draw(st.integers(min_value=1, max_value=size - 1))
    changed = data.draw(st.integers(min_value=0, max_value=old_size - 1))
    leaves = synthetic_leaves(size)
    old_root = root_from_leaf_hashes(leaves[:old_size])
    leaves[changed] = leaf_hash(b"rewritten")
    forged = MerkleTree(leaves)
    assert not verify_consistency(old_size, size, old_root, forged.root(), forged.consistency_proof(old_size))


def test_a_tree_keeping_its_recent_leaves_gives_every_recent_root_proof_and_leaf_of_the_whole_tree():
    leaves = synthetic_leaves(5_000, b"recent")
    whole, recent = MerkleTree(), MerkleTree()
    recent.keep_recent_only(1_024)
    position = 0
    for chunk in (1, 255, 700, 33, 1_500, 511, 2_000):
        whole.extend(leaves[position:position + chunk])
        recent.extend(leaves[position:position + chunk])
        position += chunk
    assert position == 5_000 and recent.first_held > 0 and recent.first_held % 256 == 0
    assert recent.root() == whole.root()
    for size in range(recent.first_held, 5_001, 17):
        assert recent.root_at(size) == whole.root_at(size)
        assert recent.consistency_proof(size) == whole.consistency_proof(size)
        if size < 5_000:
            assert recent.leaf(size) == whole.leaf(size)
            assert recent.inclusion_proof(size) == whole.inclusion_proof(size)


def test_what_a_tree_keeping_its_recent_leaves_no_longer_holds_raises_pruned_hashes():
    recent = MerkleTree()
    recent.keep_recent_only(1_024)
    recent.extend(synthetic_leaves(5_000))
    old = recent.first_held - 1
    for reach_back in (lambda: recent.leaf(old), lambda: recent.root_at(old), lambda: recent.consistency_proof(old),
                       lambda: recent.inclusion_proof(old)):
        with pytest.raises(PrunedHashes):
            reach_back()


def test_beyond_its_recent_leaves_a_tree_holds_a_quarter_byte_a_leaf():
    whole, recent = MerkleTree(), MerkleTree()
    recent.keep_recent_only(1_024)
    leaves = synthetic_leaves(200_000)
    for start in range(0, 200_000, 1_000):
        whole.extend(leaves[start:start + 1_000])
        recent.extend(leaves[start:start + 1_000])
    window = (1_024 + 1_024 // 4 + 256) * 64
    assert whole.held_bytes > 200_000 * 63
    assert recent.held_bytes < 200_000 // 4 + window
    assert recent.root() == whole.root()


def test_a_tree_keeps_at_least_four_of_its_kept_subtrees_whole():
    with pytest.raises(ValueError, match="at least 1024"):
        MerkleTree().keep_recent_only(1_000)
