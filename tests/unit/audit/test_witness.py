from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.domain.checkpoint import Checkpoint, key_id, private_key_from_raw, sign_checkpoint
from services.audit.domain.merkle import MerkleTree, leaf_hash
from services.audit.domain.witness import Rejection, WitnessState, check_new_checkpoint

pytestmark = pytest.mark.unit

LOG = "pcms.g5sahel.example/audit/hub"
START = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
SIGNER = private_key_from_raw(bytes(range(32)))
KEY_ID = key_id(SIGNER.public_key())
KEYS = {KEY_ID: SIGNER.public_key()}


def grown_tree(size: int, rewrite: int | None = None) -> MerkleTree:
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(size)]
    if rewrite is not None:
        leaves[rewrite] = leaf_hash(b"rewritten")
    return MerkleTree(leaves)


def checkpoint_of(tree: MerkleTree, size: int, log_id: str = LOG, signer: Ed25519PrivateKey = SIGNER) -> Checkpoint:
    return sign_checkpoint(log_id, size, tree.root_at(size), START + timedelta(minutes=size), signer, KEY_ID)


def test_first_checkpoint_is_accepted_on_its_signature_alone():
    verdict = check_new_checkpoint(None, checkpoint_of(grown_tree(10), 10), [], KEYS)
    assert verdict.accepted
    assert verdict.reason == "accepted"


def test_checkpoint_extending_the_last_one_with_a_valid_proof_is_accepted():
    tree = grown_tree(50)
    verdict = check_new_checkpoint(checkpoint_of(tree, 20), checkpoint_of(tree, 50), tree.consistency_proof(20, 50), KEYS)
    assert verdict.accepted


def test_repeated_checkpoint_is_accepted_without_a_proof():
    tree = grown_tree(20)
    assert check_new_checkpoint(checkpoint_of(tree, 20), checkpoint_of(tree, 20), [], KEYS).accepted


def test_checkpoint_with_a_bad_signature_is_rejected():
    tree = grown_tree(50)
    forged = checkpoint_of(tree, 50, signer=Ed25519PrivateKey.generate())
    verdict = check_new_checkpoint(checkpoint_of(tree, 20), forged, tree.consistency_proof(20, 50), KEYS)
    assert verdict.rejection is Rejection.BAD_SIGNATURE
    assert not check_new_checkpoint(None, forged, [], KEYS).accepted


def test_checkpoint_that_shrinks_the_log_is_rejected():
    tree = grown_tree(50)
    verdict = check_new_checkpoint(checkpoint_of(tree, 50), checkpoint_of(tree, 20), [], KEYS)
    assert verdict.rejection is Rejection.SIZE_WENT_BACKWARDS
    assert verdict.reason == "size went backwards"


def test_second_root_for_the_same_size_is_rejected_as_a_fork():
    seen = checkpoint_of(grown_tree(20), 20)
    fork = checkpoint_of(grown_tree(20, rewrite=3), 20)
    assert check_new_checkpoint(seen, fork, [], KEYS).rejection is Rejection.SAME_SIZE_DIFFERENT_ROOT


def test_checkpoint_over_rewritten_history_is_rejected_as_inconsistent():
    seen = checkpoint_of(grown_tree(20), 20)
    rewritten = grown_tree(50, rewrite=3)
    verdict = check_new_checkpoint(seen, checkpoint_of(rewritten, 50), rewritten.consistency_proof(20, 50), KEYS)
    assert verdict.rejection is Rejection.INCONSISTENT_PROOF


def test_growth_without_a_proof_is_rejected():
    tree = grown_tree(50)
    verdict = check_new_checkpoint(checkpoint_of(tree, 20), checkpoint_of(tree, 50), [], KEYS)
    assert verdict.rejection is Rejection.INCONSISTENT_PROOF


def test_checkpoint_of_another_log_is_rejected():
    tree = grown_tree(50)
    other = checkpoint_of(tree, 50, log_id="pcms.g5sahel.example/audit/other")
    verdict = check_new_checkpoint(checkpoint_of(tree, 20), other, tree.consistency_proof(20, 50), KEYS)
    assert verdict.rejection is Rejection.DIFFERENT_LOG
    state_verdict, _ = WitnessState(LOG).observe(other, [], KEYS)
    assert state_verdict.rejection is Rejection.DIFFERENT_LOG


def test_witness_state_advances_only_on_accepted_checkpoints():
    tree = grown_tree(60)
    state = WitnessState(LOG)
    verdict, state = state.observe(checkpoint_of(tree, 10), [], KEYS)
    assert verdict.accepted and state.latest.size == 10

    verdict, state = state.observe(checkpoint_of(tree, 30), tree.consistency_proof(10, 30), KEYS)
    assert verdict.accepted and state.latest.size == 30

    rewritten = grown_tree(60, rewrite=12)
    verdict, state = state.observe(checkpoint_of(rewritten, 60), rewritten.consistency_proof(30, 60), KEYS)
    assert not verdict.accepted and state.latest.size == 30

    verdict, state = state.observe(checkpoint_of(tree, 30), [], KEYS)
    assert verdict.accepted and state.latest.size == 30

    verdict, state = state.observe(checkpoint_of(tree, 60), tree.consistency_proof(30, 60), KEYS)
    assert verdict.accepted and state.latest.size == 60


@settings(max_examples=50, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=200))
def test_honest_growth_is_always_accepted_and_any_rewrite_is_not(data, size):
    old_size = data.draw(st.integers(min_value=1, max_value=size - 1))
    rewrite = data.draw(st.integers(min_value=0, max_value=old_size - 1))
    tree, rewritten = grown_tree(size), grown_tree(size, rewrite=rewrite)
    seen = checkpoint_of(tree, old_size)
    assert check_new_checkpoint(seen, checkpoint_of(tree, size), tree.consistency_proof(old_size, size), KEYS).accepted
    forged = check_new_checkpoint(
        seen, checkpoint_of(rewritten, size), rewritten.consistency_proof(old_size, size), KEYS
    )
    assert forged.rejection is Rejection.INCONSISTENT_PROOF
