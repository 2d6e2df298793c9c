"""Who receives a message: one pure function over the message, the federation and the policy."""

from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from shared.contracts.common import ALL, HUB
from shared.contracts.messages import Message
from shared.federation import Federation, MemberStatus
from shared.policy import RoutingPolicy


@dataclass(frozen=True)
class Original:
    """What the hub routed earlier that a reply answers or an alert update supersedes."""

    message_id: UUID
    origin: str
    recipients: tuple[str, ...]

    @classmethod
    def of(cls, message: Message, decision: "RoutingDecision") -> "Original":
        return cls(message.message_id, message.origin, (*decision.recipients, *decision.held))


@dataclass(frozen=True)
class RoutingDecision:
    rule: str
    recipients: list[str]
    refused: list[tuple[str, str]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    hits: Literal["full", "references_only"] = "full"


def decide(
    message: Message, *, federation: Federation, policy: RoutingPolicy, original: Original | None
) -> RoutingDecision:
    """original: the routed message that message.in_reply_to (replies) or body.supersedes (alerts) names, if known."""
    origin = message.origin
    if not federation.knows(origin):
        return RoutingDecision("origin-unknown", [], [(origin, "origin is not a platform of the federation")])
    status = federation.get(origin).status
    if status is not MemberStatus.ACTIVE:
        return RoutingDecision(f"origin-{status.value}", [], [(origin, f"origin is {status.value}")])
    if message.kind in policy.evaluation_required and message.evaluation is None:
        return RoutingDecision("evaluation-required", [], [(origin, f"a {message.kind} needs a 4x4 evaluation")])

    handling = policy.handling_codes[message.handling_code.value]
    hits = handling.hits
    kind_rule = policy.kinds[message.kind]
    hub = [federation.hub.code] if kind_rule.hub_copy else []

    if kind_rule.recipients == "originator_of_answered":
        if original is None:
            return RoutingDecision("reply-to-unknown-message", [], [(origin, "the message answered is unknown to the hub")])
        return _deliver("reply-to-originator", [original.origin, *hub], federation, policy, origin, hits)

    supersedes = getattr(message.body, "supersedes", None)
    if supersedes is not None and original is not None:
        if original.origin != origin:
            return RoutingDecision("alert-update-by-originator-only", [], [
                (origin, "only the originator may update or cancel an alert")])
        return _deliver("alert-update-to-original-recipients", [*original.recipients, *hub], federation, policy,
                        origin, hits)

    addressed_all = message.recipients == [ALL]
    if addressed_all and not handling.fan_out:
        code = message.handling_code.value
        return RoutingDecision(f"{code.lower()}-named-recipients-only", [federation.hub.code],
                               [(ALL, f"{code} forbids dissemination beyond named recipients")], [], hits)
    if addressed_all or (kind_rule.recipients == "all_active_members" and handling.fan_out):
        everyone = [p.code for p in federation.members] + hub
        return _deliver(f"{message.kind}-to-all-active-members", everyone, federation, policy, origin, hits)
    if message.recipients == [HUB]:
        return _deliver(f"{message.kind}-to-hub", [federation.hub.code], federation, policy, origin, hits)
    return _deliver(f"{message.kind}-to-named-recipients", [*message.recipients, *hub], federation, policy, origin, hits)


def _deliver(
    rule: str, wanted: list[str], federation: Federation, policy: RoutingPolicy, origin: str,
    hits: Literal["full", "references_only"],
) -> RoutingDecision:
    recipients: list[str] = []
    refused: list[tuple[str, str]] = []
    held: list[str] = []
    for code in dict.fromkeys(wanted):
        if code == origin:
            continue
        if not federation.knows(code):
            refused.append((code, "not a platform of the federation"))
            continue
        status = federation.get(code).status
        if status is MemberStatus.ACTIVE:
            recipients.append(code)
        elif status is MemberStatus.SUSPENDED and policy.membership.suspended.receives == "held":
            held.append(code)
        else:
            refused.append((code, f"member is {status.value}"))
    return RoutingDecision(rule, recipients, refused, held, hits)
