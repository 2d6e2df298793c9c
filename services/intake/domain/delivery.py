"""Delivery state of a sent message at one recipient: it only moves forward."""

from enum import StrEnum


class DeliveryState(StrEnum):
    NOT_ROUTED = "not_routed"
    ROUTED = "routed"
    RECEIVED = "received"
    READ = "read"
    ACTIONED = "actioned"
    REFUSED = "refused"


RANK = {
    DeliveryState.NOT_ROUTED: 0,
    DeliveryState.ROUTED: 1,
    DeliveryState.RECEIVED: 2,
    DeliveryState.READ: 3,
    DeliveryState.ACTIONED: 4,
    DeliveryState.REFUSED: 5,
}


def advances(current: DeliveryState | None, new: DeliveryState) -> bool:
    return current is None or RANK[new] > RANK[current]
