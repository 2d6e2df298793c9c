"""Membership changes as data: what each action does to a member's status, checked before it is written."""

from dataclasses import dataclass
from typing import Any, Literal

from shared.federation import Federation, MemberStatus

Action = Literal["suspend", "reinstate", "withdraw", "admit"]

_TRANSITIONS: dict[str, tuple[set[MemberStatus], MemberStatus]] = {
    "suspend": ({MemberStatus.ACTIVE}, MemberStatus.SUSPENDED),
    "reinstate": ({MemberStatus.SUSPENDED}, MemberStatus.ACTIVE),
    "withdraw": ({MemberStatus.ACTIVE, MemberStatus.SUSPENDED}, MemberStatus.WITHDRAWN),
    "admit": ({MemberStatus.WITHDRAWN}, MemberStatus.ACTIVE),
}


class MembershipError(ValueError):
    pass


@dataclass(frozen=True)
class MembershipChange:
    code: str
    action: Action
    before: str | None
    after: str
    federation: dict[str, Any]


def change(
    federation: Federation, code: str, action: Action, *, new_member: dict[str, Any] | None = None
) -> MembershipChange:
    """The federation after the action, as data to write; refuses what the member's status does not allow."""
    data = federation.model_dump(mode="json")
    if action == "admit" and not federation.knows(code):
        if not new_member:
            raise MembershipError(f"{code} is not a member yet: give its name, city, country and API port to admit it")
        data["platforms"].append({"code": code, "role": "member", "status": MemberStatus.ACTIVE.value, **new_member})
        return MembershipChange(code, action, None, MemberStatus.ACTIVE.value, Federation.model_validate(data).model_dump(mode="json"))
    if not federation.knows(code):
        raise MembershipError(f"{code} is not a platform of the federation")
    platform = federation.get(code)
    if platform.role == "hub":
        raise MembershipError("the hub's membership cannot change")
    allowed, target = _TRANSITIONS[action]
    if platform.status not in allowed:
        raise MembershipError(f"cannot {action} {code}: it is {platform.status.value} "
                              f"(allowed from {', '.join(sorted(s.value for s in allowed))})")
    for entry in data["platforms"]:
        if entry["code"] == code:
            entry["status"] = target.value
    return MembershipChange(code, action, platform.status.value, target.value, data)
