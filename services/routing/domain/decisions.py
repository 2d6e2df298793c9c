"""Who receives a message: one pure function over the message and the federation."""

from dataclasses import dataclass, field

from shared.contracts.common import ALL, HUB
from shared.contracts.messages import Message
from shared.federation import Federation


@dataclass(frozen=True)
class RoutingDecision:
    rule: str
    recipients: list[str]
    refused: list[tuple[str, str]] = field(default_factory=list)


def decide(message: Message, *, federation: Federation, answered_origin: str | None) -> RoutingDecision:
    """answered_origin is the origin of the message an rfi_response or acknowledgement answers, if known."""
    hub = federation.hub.code
    origin = message.origin
    if not federation.knows(origin):
        return RoutingDecision("origin-unknown", [], [(origin, "origin is not a platform of the federation")])
    if not federation.get(origin).is_active:
        return RoutingDecision("origin-not-active", [], [(origin, f"origin is {federation.get(origin).status}")])

    if message.kind in ("rfi_response", "acknowledgement"):
        if answered_origin is None:
            return RoutingDecision("reply-to-unknown-message", [], [(origin, "the message answered is unknown to the hub")])
        extra = [hub] if message.kind == "rfi_response" else []
        return _deliver("reply-to-originator", [answered_origin, *extra], federation, origin)

    if message.kind == "alert":
        everyone = [p.code for p in federation.members] + [hub]
        return _deliver("alert-to-all-active-members", everyone, federation, origin)

    if message.recipients == [ALL]:
        everyone = [p.code for p in federation.members] + [hub]
        return _deliver(f"{message.kind}-to-all-active-members", everyone, federation, origin)
    if message.recipients == [HUB]:
        return _deliver(f"{message.kind}-to-hub", [hub], federation, origin)
    return _deliver(f"{message.kind}-to-named-recipients", [*message.recipients, hub], federation, origin)


def _deliver(rule: str, wanted: list[str], federation: Federation, origin: str) -> RoutingDecision:
    recipients: list[str] = []
    refused: list[tuple[str, str]] = []
    for code in dict.fromkeys(wanted):
        if code == origin:
            continue
        if not federation.knows(code):
            refused.append((code, "not a platform of the federation"))
        elif not federation.get(code).is_active:
            refused.append((code, f"member is {federation.get(code).status}"))
        else:
            recipients.append(code)
    return RoutingDecision(rule, recipients, refused)
