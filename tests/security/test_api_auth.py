"""Attacks on the HTTP APIs (issue 6): each is refused with the right status and body, and leaves a security event.

The real APIs, in process, over the real PostgreSQL token store and security-event table of each
platform's own (test) database: no token, wrong token, revoked token, another platform's token,
wrong role, oversized payload, too many requests. Plus the operators' commands and `pcms users`.
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx
import pytest

from services.audit.adapters import AsyncpgAuditQueries
from services.audit.api import build_api as build_audit_api
from services.enrichment.api import build_api as build_matching_api
from services.enrichment.domain.regional import RegionalMatcher
from services.intake.adapters import AsyncpgIntakeQueries, AsyncpgIntakeStore
from services.intake.api import build_api as build_intake_api
from shared.db.uow import AsyncpgUnitOfWork
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.operators import OperatorRefused, authenticate_operator
from shared.security.ports import ApiUser
from shared.security.ratelimit import RateLimiter
from shared.security.roles import Action
from shared.security.tokens import new_token
from tests.federations import write_federation
from tests.integration.conftest import migrated_pool

pytestmark = [pytest.mark.integration, pytest.mark.security]

ALERT = {"kind": "alert", "submitted_by": "police", "priority": "urgent", "evaluation": {"source": "B", "information": "2"},
         "body": {"alert_type": "wanted_person", "summary": "Recherché.",
                  "entities": {"persons": [{"names": ["Mohamed Ould Ahmed"]}]}}}
MAX_BODY = 65_536


@dataclass
class Platform:
    code: str
    pool: asyncpg.Pool
    store: AsyncpgTokenStore
    events: AsyncpgSecurityEventLog

    async def issue(self, name: str, role: str, *, platform: str | None = None) -> str:
        token = new_token()
        await self.store.add(ApiUser(token.token_id, platform or self.code, name, role, token.secret_sha256))
        return token.text

    def auth(self, *, per_second: float = 1000, burst: int = 2000, cache_seconds: float = 5.0,
             refusals_burst: int = 50) -> ApiAuth:
        return ApiAuth(tokens=self.store, events=self.events, limiter=RateLimiter(per_second, burst),
                       cache_seconds=cache_seconds, hub="HUB", refusals=RateLimiter(0.5, refusals_burst))

    def intake(self, **auth: float) -> httpx.AsyncClient:
        api = build_intake_api(
            platform=self.code, new_uow=lambda: AsyncpgUnitOfWork(self.pool, AsyncpgIntakeStore),
            queries=AsyncpgIntakeQueries(self.pool), message_deps={"clock": partial(datetime.now, UTC), "new_id": uuid4},
            health=lambda: {}, max_body_bytes=MAX_BODY, auth=self.auth(**auth))  # type: ignore[arg-type]
        return _client(api)

    def audit(self) -> httpx.AsyncClient:
        return _client(build_audit_api(platform=self.code, queries=AsyncpgAuditQueries(self.pool), auth=self.auth()))

    def matching(self) -> httpx.AsyncClient:
        matcher = RegionalMatcher()
        matcher.finish_loading()
        return _client(build_matching_api(matcher=matcher, health=lambda: {}, max_body_bytes=MAX_BODY, auth=self.auth(),
                                          platform=self.code))

    async def last_event(self) -> dict:
        [event] = await self.events.query(limit=1)
        return event


def _client(api) -> httpx.AsyncClient:  # noqa: ANN001
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api, client=("203.0.113.7", 4321)), base_url="http://api")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def platform(postgres_url: str, database_prefix: str, code: str) -> AsyncIterator[Platform]:
    async with migrated_pool(postgres_url, f"{database_prefix}{code.lower()}") as pool:
        yield Platform(code, pool, AsyncpgTokenStore(pool), AsyncpgSecurityEventLog(pool))


@pytest.fixture
async def ne(postgres_url: str, database_prefix: str) -> AsyncIterator[Platform]:
    async with platform(postgres_url, database_prefix, "NE") as found:
        yield found


@pytest.fixture
async def hub(postgres_url: str, database_prefix: str) -> AsyncIterator[Platform]:
    async with platform(postgres_url, database_prefix, "HUB") as found:
        yield found


def assert_unauthenticated(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "unauthenticated" and detail in body["detail"], body


def assert_forbidden(response: httpx.Response, detail: str, required: list[str]) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {"error": "forbidden", "detail": detail, "required_roles": required}


# 401: no, malformed, unknown, forged, revoked, another platform's token


async def test_no_token_is_refused_401_and_recorded(ne: Platform) -> None:
    async with ne.intake() as api:
        response = await api.get("/v1/inbox")
    assert_unauthenticated(response, "no Authorization header")
    event = await ne.last_event()
    assert (event["kind"], event["status"], event["method"], event["path"], event["client"], event["service"]) == (
        "unauthenticated", 401, "GET", "/v1/inbox", "203.0.113.7", "intake")


async def test_a_malformed_or_non_bearer_token_is_refused(ne: Platform) -> None:
    async with ne.intake() as api:
        assert_unauthenticated(await api.get("/v1/inbox", headers={"Authorization": "Basic b2ZmaWNlcjpwYXNz"}),
                               "not `Bearer <token>`")
        assert_unauthenticated(await api.get("/v1/inbox", headers=bearer("letmein")), "not a PCMS token")
    assert [e["kind"] for e in await ne.events.query()] == ["unauthenticated"] * 2


async def test_an_unknown_token_and_a_forged_secret_are_refused_and_the_secret_is_never_recorded(ne: Platform) -> None:
    real = await ne.issue("officer.issa", "officer")
    forged = real[: -4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    async with ne.intake() as api:
        assert_unauthenticated(await api.get("/v1/inbox", headers=bearer(new_token().text)), "unknown token")
        assert_unauthenticated(await api.get("/v1/inbox", headers=bearer(forged)), "unknown token")
    event = await ne.last_event()
    assert event["token_id"] == real.split("_")[1] and event["actor"] is None
    stored = await ne.pool.fetch("SELECT * FROM security_events")
    everything = " ".join(str(value) for row in stored for value in row.values())
    secret = real.split("_", 2)[2]
    assert secret not in everything and forged.split("_", 2)[2] not in everything
    users = " ".join(str(value) for row in await ne.pool.fetch("SELECT * FROM api_users") for value in row.values())
    assert secret not in users, "only the hash of the secret is stored"


async def test_a_revoked_token_is_refused_once_the_cache_time_has_passed(ne: Platform) -> None:
    token = await ne.issue("officer.moussa", "officer")
    async with ne.intake(cache_seconds=0.2) as api:
        assert (await api.get("/v1/inbox", headers=bearer(token))).status_code == 200
        assert await ne.store.revoke(platform="NE", name="officer.moussa", revoked_by="tests") == [token.split("_")[1]]
        await asyncio.sleep(0.3)
        assert_unauthenticated(await api.get("/v1/inbox", headers=bearer(token)), "revoked")
    event = await ne.last_event()
    assert (event["kind"], event["actor"], event["token_id"]) == ("unauthenticated", "officer.moussa", token.split("_")[1])


async def test_a_token_of_another_platform_is_refused(ne: Platform, postgres_url: str, database_prefix: str) -> None:
    async with platform(postgres_url, database_prefix, "ML") as ml:
        malian = await ml.issue("officer.keita", "officer")
    misfiled = await ne.issue("officer.traore", "officer", platform="ML")  # a row of Mali's copied into Niger's table
    async with ne.intake() as api:
        assert_unauthenticated(await api.get("/v1/inbox", headers=bearer(malian)), "unknown token")
        assert_unauthenticated(await api.post("/v1/messages", json=ALERT, headers=bearer(misfiled)),
                               "issued for ML, not NE")
    assert [e["kind"] for e in await ne.events.query()] == ["unauthenticated"] * 2


# 403: the role may not


async def test_an_officer_may_not_read_the_audit_log_nor_its_security_events(ne: Platform) -> None:
    officer = await ne.issue("officer.issa", "officer")
    async with ne.audit() as api:
        assert_forbidden(await api.get(f"/v1/audit/messages/{uuid4()}", headers=bearer(officer)),
                         "role officer may not read the audit log", ["auditor"])
        assert_forbidden(await api.get("/v1/audit/security-events", headers=bearer(officer)),
                         "role officer may not read security events", ["auditor"])
    event = await ne.last_event()
    assert (event["kind"], event["status"], event["actor"], event["role"], event["service"], event["detail"]) == (
        "forbidden", 403, "officer.issa", "officer", "audit", {"action": "read_security_events"})


async def test_an_officer_may_not_query_the_regional_index(hub: Platform) -> None:
    officer = await hub.issue("officer.hub", "officer")
    async with hub.matching() as api:
        response = await api.post("/v1/match", json={"entity_type": "person", "entity": {"names": ["Ahmed"]}},
                                  headers=bearer(officer))
    assert_forbidden(response, "role officer may not query the regional index", ["analyst"])
    event = await hub.last_event()
    assert (event["kind"], event["path"], event["service"]) == ("forbidden", "/v1/match", "enrichment")


async def test_an_auditor_may_not_submit_and_an_analyst_is_only_an_analyst_at_the_hub(ne: Platform) -> None:
    auditor = await ne.issue("dpo.ne", "auditor")
    analyst = await ne.issue("analyst.astray", "analyst")  # pcms users add refuses this; the API refuses it too
    async with ne.intake() as api:
        assert_forbidden(await api.post("/v1/messages", json=ALERT, headers=bearer(auditor)),
                         "role auditor may not submit messages", ["officer"])
        assert_forbidden(await api.get("/v1/inbox", headers=bearer(analyst)),
                         "role analyst may read the inbox only at the hub", ["analyst", "officer"])
    assert [e["role"] for e in await ne.events.query()] == ["analyst", "auditor"]
    assert await ne.pool.fetchval("SELECT count(*) FROM outbox") == 0, "nothing was accepted"


# 413 and 429


async def test_an_oversized_payload_is_refused_413_and_recorded_with_the_claimed_token(ne: Platform) -> None:
    officer = await ne.issue("officer.issa", "officer")
    huge = b'{"kind": "alert", "pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    async with ne.intake() as api:
        response = await api.post("/v1/messages", content=huge,
                                  headers={**bearer(officer), "content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    event = await ne.last_event()
    assert (event["kind"], event["status"], event["token_id"], event["detail"]) == (
        "payload_too_large", 413, officer.split("_")[1], {"token_verified": False})


async def test_too_many_requests_with_one_token_get_429_with_retry_after(ne: Platform) -> None:
    officer = await ne.issue("officer.issa", "officer")
    other = await ne.issue("officer.moussa", "officer")
    async with ne.intake(per_second=0.5, burst=3) as api:
        answers = [(await api.get("/v1/notifications", headers=bearer(officer))).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = await api.get("/v1/notifications", headers=bearer(officer))
        assert (await api.get("/v1/notifications", headers=bearer(other))).status_code == 200, "limits are per token"
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    events = await ne.events.query(kind="rate_limited")
    assert len(events) == 2 and {e["actor"] for e in events} == {"officer.issa"}


async def test_a_flood_of_bad_tokens_from_one_address_is_cut_short_and_counted_not_recorded_one_by_one(
    ne: Platform,
) -> None:
    officer = await ne.issue("officer.issa", "officer")
    async with ne.intake(refusals_burst=3) as api:
        answers = [(await api.get("/v1/inbox", headers=bearer("pcms_0123456789ab_" + "x" * 43))).status_code
                   for _ in range(10)]
        flooded = await api.get("/v1/inbox", headers=bearer(officer))
    assert answers == [401, 401, 401] + [429] * 7
    assert flooded.status_code == 429 and flooded.json()["error"] == "rate_limited", "the address is held back a while"
    assert int(flooded.headers["retry-after"]) >= 1
    events = await ne.events.query(kind="unauthenticated")
    assert len(events) == 3 and {e["client"] for e in events} == {"203.0.113.7"}


async def test_the_next_recorded_refusal_counts_what_was_suppressed(ne: Platform) -> None:
    now = [0.0]
    auth = ne.auth()
    auth.refusals = RateLimiter(1, 1, clock=lambda: now[0])
    api = build_intake_api(
        platform="NE", new_uow=lambda: AsyncpgUnitOfWork(ne.pool, AsyncpgIntakeStore),
        queries=AsyncpgIntakeQueries(ne.pool), message_deps={"clock": partial(datetime.now, UTC), "new_id": uuid4},
        health=lambda: {}, max_body_bytes=MAX_BODY, auth=auth)  # type: ignore[arg-type]
    async with _client(api) as client:
        assert [(await client.get("/v1/inbox")).status_code for _ in range(4)] == [401, 429, 429, 429]
        now[0] = 5.0
        assert (await client.get("/v1/inbox")).status_code == 401
    latest = await ne.last_event()
    assert latest["kind"] == "unauthenticated" and latest["detail"]["suppressed_before"] == 3


# What is allowed, and who reads the record of refusals


async def test_an_auditor_reads_the_security_events_and_an_officer_reads_its_inbox(ne: Platform) -> None:
    auditor, officer = await ne.issue("dpo.ne", "auditor"), await ne.issue("officer.issa", "officer")
    async with ne.intake() as intake, ne.audit() as audit:
        assert (await intake.get("/v1/inbox", headers=bearer(officer))).status_code == 200
        await intake.get("/v1/inbox")
        response = await audit.get("/v1/audit/security-events", params={"kind": "unauthenticated"}, headers=bearer(auditor))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1 and body["events"][0]["path"] == "/v1/inbox"


async def test_a_recorded_refusal_cannot_be_edited_or_removed(ne: Platform) -> None:
    async with ne.intake() as api:
        await api.get("/v1/inbox")
    for statement in ("UPDATE security_events SET reason = 'nothing happened'", "DELETE FROM security_events",
                      "TRUNCATE security_events"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await ne.pool.execute(statement)
    assert len(await ne.events.query()) == 1


# The operators' commands and `pcms users`


async def test_an_operator_command_needs_an_operators_token_of_the_hub(hub: Platform) -> None:
    operator, officer = await hub.issue("operator.sow", "operator"), await hub.issue("officer.hub", "officer")
    check = partial(authenticate_operator, store=hub.store, events=hub.events, hub="HUB", action=Action.MANAGE_DLQ,
                    command="dlq purge")
    for presented, kind in ((None, "unauthenticated"), (new_token().text, "unauthenticated"), (officer, "forbidden")):
        with pytest.raises(OperatorRefused) as refused:
            await check(presented)
        assert refused.value.kind == kind
    assert (await check(operator)).name == "operator.sow"
    kinds = [(e["kind"], e["actor"], e["path"]) for e in await hub.events.query()]
    assert kinds == [("operator_action", "operator.sow", "dlq purge"), ("forbidden", "officer.hub", "dlq purge"),
                     ("unauthenticated", None, "dlq purge"), ("unauthenticated", None, "dlq purge")]


def pcms(tmp_path: Path, postgres_url: str, database_prefix: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    federation = write_federation(tmp_path / "federation.yaml", {})
    env = {**os.environ, "DATABASE_URL": postgres_url, "PCMS_DATABASE_PREFIX": database_prefix,
           "PCMS_FEDERATION_FILE": str(federation), "COLUMNS": "200"}
    env.pop("PCMS_TOKEN", None)
    if token:
        env["PCMS_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "shared.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_users_add_prints_the_token_once_list_shows_ids_and_revoke_ends_it(
    ne: Platform, tmp_path: Path, postgres_url: str, database_prefix: str
) -> None:
    run = partial(pcms, tmp_path, postgres_url, database_prefix)
    added = await asyncio.to_thread(run, "users", "add", "--platform", "NE", "--name", "officer.issa", "--role", "officer")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    token_id = token.split("_")[1]
    user = await ne.store.find(token_id)
    assert user is not None and (user.platform, user.name, user.role, user.revoked) == ("NE", "officer.issa", "officer", False)
    async with ne.intake() as api:
        assert (await api.get("/v1/inbox", headers=bearer(token))).status_code == 200
    listed = await asyncio.to_thread(run, "users", "list", "--platform", "NE")
    assert token_id in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    refused = await asyncio.to_thread(run, "users", "add", "--platform", "NE", "--name", "a", "--role", "analyst")
    assert refused.returncode == 2 and "only at the hub" in refused.stderr
    revoked = await asyncio.to_thread(run, "users", "revoke", "--platform", "NE", "--name", "officer.issa")
    assert revoked.returncode == 0, revoked.stderr
    assert (await ne.store.find(token_id)).revoked  # type: ignore[union-attr]


async def test_pcms_dlq_without_an_operators_token_is_refused_before_it_acts(
    hub: Platform, tmp_path: Path, postgres_url: str, database_prefix: str
) -> None:
    officer = await hub.issue("officer.hub", "officer")
    run = partial(pcms, tmp_path, postgres_url, database_prefix)
    for token, kind in ((None, "unauthenticated"), (officer, "forbidden")):
        done = await asyncio.to_thread(run, "dlq", "purge", "quarantine.NE", "--yes", token=token)
        assert done.returncode == 3 and f"refused ({kind})" in done.stderr, done.stdout + done.stderr
    assert [e["kind"] for e in await hub.events.query()] == ["forbidden", "unauthenticated"]
