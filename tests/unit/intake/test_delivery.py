"""Delivery state of a sent message at one recipient only moves forward."""

from itertools import permutations

import pytest

from services.intake.domain.delivery import RANK, DeliveryState, advances

pytestmark = pytest.mark.unit

ORDER = [DeliveryState.NOT_ROUTED, DeliveryState.HELD, DeliveryState.ROUTED, DeliveryState.RECEIVED, DeliveryState.READ,
         DeliveryState.ACTIONED, DeliveryState.REFUSED]


def test_every_state_has_a_rank() -> None:
    assert set(RANK) == set(DeliveryState)


def test_states_are_ranked_from_not_routed_to_refused() -> None:
    assert sorted(DeliveryState, key=RANK.__getitem__) == ORDER
    assert len(set(RANK.values())) == len(RANK)


@pytest.mark.parametrize("state", list(DeliveryState))
def test_any_state_is_a_first_state(state: DeliveryState) -> None:
    assert advances(None, state)


@pytest.mark.parametrize(("current", "new"), [pair for pair in permutations(ORDER, 2) if ORDER.index(pair[0]) < ORDER.index(pair[1])])
def test_a_later_state_advances(current: DeliveryState, new: DeliveryState) -> None:
    assert advances(current, new)


@pytest.mark.parametrize(("current", "new"), [pair for pair in permutations(ORDER, 2) if ORDER.index(pair[0]) > ORDER.index(pair[1])])
def test_an_earlier_state_never_moves_the_delivery_back(current: DeliveryState, new: DeliveryState) -> None:
    assert not advances(current, new)


@pytest.mark.parametrize("state", list(DeliveryState))
def test_the_same_state_again_does_not_advance(state: DeliveryState) -> None:
    assert not advances(state, state)


def test_a_refusal_is_final() -> None:
    assert not any(advances(DeliveryState.REFUSED, state) for state in DeliveryState)


def test_acknowledgement_states_map_onto_delivery_states() -> None:
    from shared.contracts.bodies import AcknowledgementState

    assert {DeliveryState(state.value) for state in AcknowledgementState} <= set(DeliveryState)


def test_applying_states_in_any_order_ends_at_the_furthest() -> None:
    for order in permutations([DeliveryState.ROUTED, DeliveryState.RECEIVED, DeliveryState.READ]):
        current: DeliveryState | None = None
        for state in order:
            if advances(current, state):
                current = state
        assert current is DeliveryState.READ
