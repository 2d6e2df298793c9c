"""API users for a test's federation: tokens issued into each platform's own (test) database."""

import asyncio

from shared.cli.users import issue_token
from shared.federation import Federation

ROLES_AT_EVERY_PLATFORM = ("officer", "auditor")
ROLES_AT_THE_HUB = ("analyst", "operator")


def token_key(code: str, role: str) -> str:
    return f"{code.upper()}/{role}"


def user_name(code: str, role: str) -> str:
    return f"{role}.{code.lower()}"


def issue_test_tokens(postgres_url: str, database_prefix: str, federation: Federation) -> dict[str, str]:
    """`CODE/role` -> token: an officer and an auditor at every active platform, an analyst and an operator at the hub."""
    wanted = [(p.code, role) for p in federation.active_platforms for role in ROLES_AT_EVERY_PLATFORM]
    wanted += [(federation.hub.code, role) for role in ROLES_AT_THE_HUB]

    async def issue() -> dict[str, str]:
        return {token_key(code, role): await issue_token(postgres_url, f"{database_prefix}{code.lower()}", platform=code,
                                                         name=user_name(code, role), role=role, created_by="tests")
                for code, role in wanted}

    return asyncio.run(issue())
