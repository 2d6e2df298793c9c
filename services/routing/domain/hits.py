"""What each platform may see of the hits on a message."""

from shared.contracts.events import Hit
from shared.federation import Federation, MemberStatus
from shared.policy import RoutingPolicy

REFERENCE_ONLY = "reference-only"


def visible_hits(
    hits: list[Hit], *, recipient: str, federation: Federation, policy: RoutingPolicy, references_only: bool
) -> list[Hit]:
    """Hits on a withdrawn member's records stay with the hub; under H2 only references travel."""
    hub = federation.hub.code
    shown = []
    for hit in hits:
        owner_withdrawn = federation.knows(hit.matched_platform) and (
            federation.get(hit.matched_platform).status is MemberStatus.WITHDRAWN)
        if owner_withdrawn and policy.membership.withdrawn.past_data_at_hub == "hub_only" and recipient != hub:
            continue
        shown.append(hit.model_copy(update={"key": REFERENCE_ONLY, "explanation": []}) if references_only else hit)
    return shown


def notification_targets(hits: list[Hit], *, origin: str, federation: Federation, policy: RoutingPolicy) -> dict[str, list[Hit]]:
    """The owners of both records and the hub, each with the hits that concern them."""
    notable = [hit for hit in hits if hit.outcome.value in policy.hit_notifications.outcomes]
    if not notable:
        return {}
    hub = federation.hub.code
    targets: dict[str, list[Hit]] = {origin: notable, hub: notable}
    for hit in notable:
        owner = hit.matched_platform
        if owner != origin and federation.knows(owner) and federation.get(owner).is_active:
            targets.setdefault(owner, []).append(hit)
    return targets
