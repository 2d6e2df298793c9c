"""Who may do what through the APIs and the operators' commands: pure rules, no I/O.

Four roles (issue 6): an officer works for one platform (submits, acknowledges, imports, reads that
platform's inbox, requests, notifications, matches and sent messages); an analyst works at the hub
(reads everything the hub's intake holds, queries and compares in the regional index); an auditor
reads the audit log of the platform that issued the token; an operator runs the membership and
dead-letter commands. A token is valid only at the platform whose database issued it.
"""

from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    OPERATOR = "operator"


class Action(StrEnum):
    SUBMIT = "submit"
    ACKNOWLEDGE = "acknowledge"
    IMPORT = "import"
    READ_INBOX = "read_inbox"
    READ_RFIS = "read_rfis"
    READ_NOTIFICATIONS = "read_notifications"
    READ_MATCHES = "read_matches"
    READ_SENT = "read_sent"
    MATCH = "match"
    COMPARE = "compare"
    READ_AUDIT = "read_audit"
    READ_SECURITY_EVENTS = "read_security_events"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_DLQ = "manage_dlq"


DESCRIPTIONS: dict[Action, str] = {
    Action.SUBMIT: "submit messages",
    Action.ACKNOWLEDGE: "acknowledge messages",
    Action.IMPORT: "import records",
    Action.READ_INBOX: "read the inbox",
    Action.READ_RFIS: "read requests for information",
    Action.READ_NOTIFICATIONS: "read notifications",
    Action.READ_MATCHES: "read hit notifications",
    Action.READ_SENT: "read sent messages",
    Action.MATCH: "query the regional index",
    Action.COMPARE: "compare records",
    Action.READ_AUDIT: "read the audit log",
    Action.READ_SECURITY_EVENTS: "read security events",
    Action.MANAGE_MEMBERS: "change membership",
    Action.MANAGE_DLQ: "handle quarantined and parked messages",
}

_READERS = frozenset({Role.OFFICER, Role.ANALYST})
RULES: dict[Action, frozenset[Role]] = {
    Action.SUBMIT: frozenset({Role.OFFICER}),
    Action.ACKNOWLEDGE: frozenset({Role.OFFICER}),
    Action.IMPORT: frozenset({Role.OFFICER}),
    Action.READ_INBOX: _READERS,
    Action.READ_RFIS: _READERS,
    Action.READ_NOTIFICATIONS: _READERS,
    Action.READ_MATCHES: _READERS,
    Action.READ_SENT: _READERS,
    Action.MATCH: frozenset({Role.ANALYST}),
    Action.COMPARE: frozenset({Role.ANALYST}),
    Action.READ_AUDIT: frozenset({Role.AUDITOR}),
    Action.READ_SECURITY_EVENTS: frozenset({Role.AUDITOR}),
    Action.MANAGE_MEMBERS: frozenset({Role.OPERATOR}),
    Action.MANAGE_DLQ: frozenset({Role.OPERATOR}),
}
HUB_ONLY = frozenset({Role.ANALYST, Role.OPERATOR})
"""Roles a token may carry only when the hub issues it."""


def required_roles(action: Action) -> list[str]:
    return sorted(role.value for role in RULES[action])


def refusal(role: Role | str, action: Action, *, at_hub: bool) -> str | None:
    """Why `role` may not do `action` here, or None when it may."""
    try:
        role = Role(role)
    except ValueError:
        return f"role {role} is not a known role"
    if role not in RULES[action]:
        return f"role {role.value} may not {DESCRIPTIONS[action]}"
    if role in HUB_ONLY and not at_hub:
        return f"role {role.value} may {DESCRIPTIONS[action]} only at the hub"
    return None


def assignable(role: Role | str, *, at_hub: bool) -> str | None:
    """Why a token of `role` may not be issued by this platform, or None when it may."""
    try:
        role = Role(role)
    except ValueError:
        return f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}"
    if role in HUB_ONLY and not at_hub:
        return f"role {role.value} exists only at the hub"
    return None
