"""The rules of exchange as data (deploy/routing-policy.yaml), validated."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "routing-policy.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HandlingRule(_Strict):
    meaning: str
    fan_out: bool
    hits: Literal["full", "references_only"]
    restriction_shown: bool = False


class KindRule(_Strict):
    recipients: Literal["all_active_members", "as_addressed", "originator_of_answered"]
    hub_copy: bool


class RfiRule(_Strict):
    deadline_hours: dict[Literal["urgent", "routine"], float]
    remind_when_left: float = Field(gt=0, lt=1)


STANDARD_RFI_RULE = RfiRule(deadline_hours={"urgent": 8, "routine": 168}, remind_when_left=0.25)
"""The deadlines of deploy/routing-policy.yaml; services are given the file's rule, tests may use this one."""


class SuspendedRule(_Strict):
    receives: Literal["held", "nothing"]
    sends: Literal["held", "refused"]


class WithdrawnRule(_Strict):
    receives: Literal["nothing"]
    sends: Literal["refused"]
    past_data_at_hub: Literal["hub_only", "shared"]


class MembershipRule(_Strict):
    suspended: SuspendedRule
    withdrawn: WithdrawnRule


class HitNotificationRule(_Strict):
    outcomes: list[Literal["hit", "review"]]


class RoutingPolicy(_Strict):
    version: int
    handling_codes: dict[Literal["H0", "H1", "H2", "H3"], HandlingRule]
    evaluation_required: list[str]
    kinds: dict[Literal["alert", "report", "rfi", "rfi_response", "acknowledgement"], KindRule]
    rfi: RfiRule
    membership: MembershipRule
    hit_notifications: HitNotificationRule


def load_policy(path: Path = DEFAULT_POLICY_FILE) -> RoutingPolicy:
    with open(path, encoding="utf-8") as handle:
        return RoutingPolicy.model_validate(yaml.safe_load(handle))
