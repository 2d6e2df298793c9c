"""Delivery state of a sent message at one recipient: it only moves forward."""

from enum import StrEnum

from shared.contracts.events import RoutingDecided


class DeliveryState(StrEnum):
    NOT_ROUTED = "not_routed"
    HELD = "held"
    ROUTED = "routed"
    RECEIVED = "received"
    READ = "read"
    ACTIONED = "actioned"
    REFUSED = "refused"


RANK = {
    DeliveryState.NOT_ROUTED: 0,
    DeliveryState.HELD: 1,
    DeliveryState.ROUTED: 2,
    DeliveryState.RECEIVED: 3,
    DeliveryState.READ: 4,
    DeliveryState.ACTIONED: 5,
    DeliveryState.REFUSED: 6,
}


def advances(current: DeliveryState | None, new: DeliveryState) -> bool:
    return current is None or RANK[new] > RANK[current]


HELD_REASON = "member is suspended: held at the hub"


def delivery_states(notice: RoutingDecided) -> list[tuple[DeliveryState, list[tuple[str, str | None]]]]:
    """What a routing decision says of each recipient of a sent message."""
    return [
        (DeliveryState.ROUTED, [(code, None) for code in notice.recipients]),
        (DeliveryState.NOT_ROUTED, [(refused.platform, refused.reason) for refused in notice.refused]),
        (DeliveryState.HELD, [(code, HELD_REASON) for code in notice.held]),
    ]
