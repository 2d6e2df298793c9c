"""The tamper-evident audit log against the real PostgreSQL: appends, roles, triggers, tampering, witnesses, purge."""

import asyncio
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit import adapters
from services.audit.api import build_api
from services.audit.appender import AuditAppender
from services.audit.domain.checkpoint import private_key_from_raw, private_key_to_pem
from services.audit.domain.entry import AuditEntry, canonical_bytes, canonical_json, canonical_time, content_sha256, content_text
from services.audit.domain.merkle import verify_inclusion
from services.audit.domain.verify import FailureKind
from services.audit.domain.witness import Rejection
from services.audit.keys import log_id_for, signer_from_key
from services.audit.verification import load_witness_copy, verify_database
from services.audit.witnessing import CheckpointWitness
from shared.contracts.events import CheckpointPublished, HopRecorded
from shared.messaging.outgoing import OutgoingMessage
from shared.db.connect import create_pool, ensure_database
from shared.db.migrate import migrate
from shared.security.adapters import AsyncpgSecurityEventLog, AsyncpgTokenStore
from shared.security.http_auth import ApiAuth
from shared.security.ports import ApiUser
from shared.security.ratelimit import RateLimiter
from shared.security.tokens import new_token
from tests.integration.conftest import migrated_pool

pytestmark = pytest.mark.integration

LOG_ID = log_id_for("HUB")
SIGNER = signer_from_key(LOG_ID, private_key_from_raw(bytes(range(1, 33))))
KEYS = {SIGNER.key_id: SIGNER.public_key}
START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
HOPS = ["accepted", "published", "enriched", "routed", "delivered", "acknowledged"]


def hop(n: int, message_id: UUID | None = None, at: datetime | None = None, **changes: object) -> HopRecorded:
    fields = dict(
        event_id=uuid4(), message_id=message_id or UUID(int=n // 6 + 1), correlation_id=UUID(int=n // 6 + 1),
        kind="alert", hop=HOPS[n % 6], platform=("NE", "NE", "HUB", "HUB", "ML", "ML")[n % 6], service="routing",
        actor="agent.traoré" if n % 3 == 0 else None, at=at or START + timedelta(seconds=n),
        detail={"n": n, "recipients": ["ML", "MR"], "ratio": 0.1, "big": 1e16},
    )
    return HopRecorded(**(fields | changes))  # type: ignore[arg-type]


def appender(pool: asyncpg.Pool, **options: object) -> AuditAppender:
    settings = dict(batch_max=50, checkpoint_every=10_000, checkpoint_seconds=3600)
    return AuditAppender(pool, SIGNER, **(settings | options))  # type: ignore[arg-type]


@pytest.fixture
async def witness_pool(postgres_url: str, database_prefix: str):
    async with migrated_pool(postgres_url, f"{database_prefix}ne") as pool:
        yield pool


async def new_witness(pool: asyncpg.Pool, **options: object) -> CheckpointWitness:
    witness = CheckpointWitness(pool, **({"log_id": LOG_ID, "trusted_keys": {}, "trust_on_first_use": True} | options))
    await witness.start()
    return witness


async def publish_to(witness: CheckpointWitness, log: AuditAppender, pool: asyncpg.Pool, after: int = 0) -> list[str]:
    """What the hub's publisher sends: every checkpoint (from size `after` on) with the proof from the previous one."""
    outcomes = []
    previous = 0
    for checkpoint in await adapters.checkpoints(pool, LOG_ID):
        if checkpoint.size > after:
            message = CheckpointPublished.model_validate_json(log.checkpoint_message(checkpoint, previous).body)
            outcomes.append((await witness.observe(message)).status)
        previous = checkpoint.size
    return outcomes


async def build_log(pool: asyncpg.Pool, sizes: tuple[int, ...] = (20, 40, 60)) -> AuditAppender:
    log = appender(pool)
    await log.start()
    appended = 0
    for size in sizes:
        assert all(await asyncio.gather(*(log.append(hop(n)) for n in range(appended, size))))
        appended = size
        await log.checkpoint_now()
    return log


async def verify(pool: asyncpg.Pool, witness_pool: asyncpg.Pool | None = None):
    async with pool.acquire() as connection:
        copy = None
        if witness_pool is not None:
            copy = await load_witness_copy(witness_pool, "NE", LOG_ID)
        return await verify_database(connection, log_id=LOG_ID, public_keys=KEYS, witness=copy)


async def as_superuser_without_triggers(pool: asyncpg.Pool, *statements: str) -> None:
    """What a database administrator can always do: switch the triggers off and rewrite the table."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            await connection.execute(statement)


async def rehash(pool: asyncpg.Pool, where: str = "true") -> None:
    """A careful attacker also rewrites the stored digests and leaf hashes of what they changed."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(f"{adapters.VERIFY_SELECT.replace(' ORDER BY seq', '')} WHERE {where}")
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            for row in rows:
                digest = adapters.stored_digest(row)
                await connection.execute("UPDATE audit_log SET content_sha256 = $2, leaf_hash = $3 WHERE seq = $1",
                                         row[0], digest, adapters.leaf_hash_for(row[0], digest))


# Appending


async def test_concurrent_appends_get_gap_free_seqs_in_batches_and_signed_checkpoints(pool):
    log = appender(pool, checkpoint_every=100)
    await log.start()
    try:
        events = [hop(n) for n in range(250)]
        assert all(await asyncio.gather(*(log.append(event) for event in events)))
        assert await log.append(events[7]) is False, "a redelivered event is not appended twice"
        seqs = [row["seq"] for row in await pool.fetch("SELECT seq FROM audit_log ORDER BY seq")]
        assert seqs == list(range(250))
        assert log.batches < 250 / 2, "appends were batched"
        sizes = [c.size for c in await adapters.checkpoints(pool, LOG_ID)]
        assert sizes and all(b - a >= 100 for a, b in zip([0, *sizes], sizes))
        assert await pool.fetchval("SELECT next_seq FROM audit_log_head") == 250
        await log.checkpoint_now()
        result = await verify(pool)
        assert result.ok, result.as_dict()
        assert result.report.verified_size == 250
    finally:
        await log.stop()


async def test_event_id_and_kind_are_covered_by_the_hash(pool):
    log = appender(pool)
    await log.start()
    event = hop(3)
    await log.append(event)
    await log.stop()
    row = await pool.fetchrow("SELECT content_sha256, detail::text AS detail FROM audit_log WHERE event_id = $1",
                              event.event_id)
    entry = AuditEntry(seq=0, message_id=str(event.message_id), correlation_id=str(event.correlation_id),
                       hop=event.hop.value, platform=event.platform, service=event.service, actor=event.actor,
                       at=event.at, detail=dict(event.detail), event_id=str(event.event_id), kind=event.kind)
    assert row["content_sha256"] == content_sha256(entry)
    assert content_sha256(replace(entry, kind="report")) != row["content_sha256"]
    assert content_sha256(replace(entry, event_id=str(uuid4()))) != row["content_sha256"]
    assert row["detail"] == canonical_json(dict(event.detail)).decode(), "json keeps the hashed text byte for byte"


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(actor=st.none() | _text, kind=st.none() | _text, hop_name=st.sampled_from(HOPS), platform=_text,
       detail=st.dictionaries(_text, st.none() | st.booleans() | st.integers() | _text | st.lists(_text, max_size=3)
                              | st.floats(allow_nan=False, allow_infinity=False), max_size=4),
       micro=st.integers(0, 999_999))
def test_the_fast_content_text_is_the_canonical_content(actor, kind, hop_name, platform, detail, micro):
    entry = AuditEntry(seq=1, message_id=str(uuid4()), correlation_id=None, hop=hop_name, platform=platform or "X",
                       service="svc", actor=actor, at=START.replace(microsecond=micro), detail=detail,
                       event_id=str(uuid4()), kind=kind)
    fast = content_text(event_id=entry.event_id, kind=kind, message_id=entry.message_id, correlation_id=None,
                        hop=hop_name, platform=entry.platform, service="svc", actor=actor,
                        at_text=canonical_time(entry.at), detail_text=canonical_json(detail).decode())
    assert fast.encode() == canonical_bytes(entry)


async def test_postgres_formats_times_exactly_as_the_canonical_form(pool):
    for at in (START, START.replace(microsecond=7), datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)):
        text = await pool.fetchval(f"SELECT {adapters.AT_TEXT} FROM (SELECT $1::timestamptz AS at) t", at)
        assert text == canonical_time(at)


async def test_a_tool_appending_directly_keeps_the_log_gap_free_for_the_appender(pool):
    log = appender(pool)
    await log.start()
    try:
        await log.append(hop(0))
        assert await adapters.AsyncpgAuditLog(pool).append(hop(1)) is True  # e.g. `pcms audit trail` recording a read
        await log.append(hop(2))
        await log.checkpoint_now()
        assert [r[0] for r in await pool.fetch("SELECT seq FROM audit_log ORDER BY seq")] == [0, 1, 2]
        assert (await verify(pool)).ok
    finally:
        await log.stop()


async def test_entries_written_before_the_migration_are_re_appended_first(postgres_url, database_prefix):
    name = f"{database_prefix}legacy"
    await ensure_database(postgres_url, name)
    pool = await create_pool(postgres_url, name)
    try:
        async with pool.acquire() as connection:
            await connection.execute((Path(adapters.__file__).parent / "migrations" / "0001_audit_log.sql").read_text())
            await connection.execute(
                "INSERT INTO audit_log (event_id, message_id, hop, platform, service, at, detail) VALUES "
                "($1, $2, 'accepted', 'NE', 'intake', $3, '{\"b\": 1, \"a\": [\"x\"]}'),"
                "($4, $2, 'published', 'NE', 'relay', $3, '{}')", uuid4(), uuid4(), START, uuid4())
            await connection.execute("CREATE TABLE schema_migrations (id text PRIMARY KEY, applied_at timestamptz "
                                     "NOT NULL DEFAULT now()); INSERT INTO schema_migrations (id) "
                                     "VALUES ('services.audit/0001_audit_log.sql')")
            await migrate(connection)
        log = appender(pool)
        await log.start()
        await log.append(hop(9))
        await log.checkpoint_now()
        await log.stop()
        hops = [row["hop"] for row in await pool.fetch("SELECT hop FROM audit_log ORDER BY seq")]
        assert hops == ["accepted", "published", HOPS[9 % 6]]
        assert await pool.fetchval("SELECT count(*) FROM audit_log_v1") == 0
        assert (await verify(pool)).ok
    finally:
        await pool.close()


# Append-only storage


async def test_the_writer_role_may_only_insert_and_select(pool):
    log = await build_log(pool, (5,))
    await log.stop()
    async with pool.acquire() as connection:
        for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
                          "TRUNCATE audit_log", "UPDATE audit_checkpoints SET size = 1", "DELETE FROM audit_checkpoints",
                          "SELECT audit_purge(now())"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                async with connection.transaction():
                    await connection.execute("SET LOCAL ROLE pcms_audit_writer")
                    await connection.execute(statement)


async def test_the_trigger_refuses_update_delete_and_truncate_even_for_the_owner(pool):
    log = await build_log(pool, (5,))
    await log.stop()
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
                      "TRUNCATE audit_log", "UPDATE audit_checkpoints SET size = 1", "DELETE FROM audit_checkpoints",
                      "TRUNCATE audit_checkpoints CASCADE"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 5


async def test_only_a_purge_shaped_update_passes_even_as_the_purger_role(pool):
    log = await build_log(pool, (5,))
    await log.stop()
    async with pool.acquire() as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            async with connection.transaction():
                await connection.execute("SET LOCAL ROLE pcms_audit_purger")
                await connection.execute("UPDATE audit_log SET actor = 'forged' WHERE seq = 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with connection.transaction():
                await connection.execute("SET LOCAL ROLE pcms_audit_purger")
                await connection.execute("UPDATE audit_log SET content_sha256 = repeat('0', 64), message_id = NULL, "
                                         "correlation_id = NULL, kind = NULL, hop = NULL, platform = NULL, "
                                         "service = NULL, actor = NULL, detail = NULL, purged_at = now()")


# Retention


async def test_purge_blanks_content_keeps_proofs_and_verification_passes(pool):
    log = await build_log(pool, (20, 40))
    await log.stop()
    cutoff = START + timedelta(seconds=30)
    before = await pool.fetchval("SELECT count(*) FROM audit_log WHERE at < $1", cutoff)
    assert await adapters.purge_before(pool, cutoff) == before == 30
    assert await adapters.purge_before(pool, cutoff) == 0
    purged = await pool.fetchrow("SELECT * FROM audit_log WHERE seq = 3")
    assert purged["purged_at"] is not None and purged["actor"] is None and purged["detail"] is None
    assert purged["message_id"] is None and len(purged["content_sha256"]) == 64
    result = await verify(pool)
    assert result.ok, result.as_dict()
    tree_leaves = await adapters.leaf_hashes(pool)
    latest = (await adapters.checkpoints(pool, LOG_ID))[-1]
    from services.audit.domain.merkle import MerkleTree

    tree = MerkleTree(tree_leaves)
    assert verify_inclusion(bytes(purged["leaf_hash"]), 3, latest.size, tree.inclusion_proof(3, latest.size), latest.root)


# Tampering: verification and the witness catch every case


async def witnessed_log(pool, witness_pool):
    log = await build_log(pool)
    witness = await new_witness(witness_pool)
    assert await publish_to(witness, log, pool) == ["accepted"] * 3
    assert witness.mirror_size == 60
    assert (await verify(pool)).ok and (await verify(pool, witness_pool)).ok
    await log.stop()
    return witness


async def hub_restarts_and_publishes(pool, witness) -> str:
    """The hub's appender starts over the tampered table, appends, signs: what does the witness say?"""
    log = appender(pool)
    await log.start()
    try:
        for n in range(100, 105):
            await log.append(hop(n))
        await log.checkpoint_now()
        stored = await adapters.checkpoints(pool, LOG_ID)
        latest = stored[-1]
        previous = stored[-2].size if len(stored) > 1 else 0  # the hub sends the proof from its previous checkpoint
        message = CheckpointPublished.model_validate_json(log.checkpoint_message(latest, previous).body)
        outcome = await witness.observe(message)
        return outcome.reason if outcome.status == "rejected" else outcome.status
    finally:
        await log.stop()


async def test_an_edited_entry_is_found_at_its_seq(pool, witness_pool):
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 25")
    result = await verify(pool)
    assert not result.ok and result.first_bad_seq == 25
    assert result.report.failure.kind is FailureKind.ENTRY_EDITED
    await rehash(pool, "seq = 25")
    careful = await verify(pool)
    assert not careful.ok and careful.report.failure.window == (20, 40), "own checkpoints alone: the window"
    with_witness = await verify(pool, witness_pool)
    assert with_witness.first_bad_seq == 25 and with_witness.report.failure.kind is FailureKind.ENTRY_EDITED
    assert await hub_restarts_and_publishes(pool, witness) == Rejection.INCONSISTENT_PROOF.value


async def test_a_deleted_entry_is_found_at_its_seq(pool, witness_pool):
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "DELETE FROM audit_log WHERE seq = 25")
    result = await verify(pool)
    assert result.first_bad_seq == 25 and result.report.failure.kind is FailureKind.ENTRY_MISSING
    await as_superuser_without_triggers(pool, "UPDATE audit_log SET seq = seq + 999 WHERE seq > 25",
                                        "UPDATE audit_log SET seq = seq - 1000 WHERE seq >= 1000",
                                        "UPDATE audit_log_head SET next_seq = next_seq - 1")
    await rehash(pool, "seq >= 25")
    with_witness = await verify(pool, witness_pool)
    assert with_witness.first_bad_seq == 25 and with_witness.report.failure.kind is FailureKind.ENTRY_MISSING
    assert "renumbered" in with_witness.report.failure.message
    assert await hub_restarts_and_publishes(pool, witness) == Rejection.INCONSISTENT_PROOF.value


async def test_reordered_entries_are_found_at_their_seq(pool, witness_pool):
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "UPDATE audit_log SET seq = 1000 WHERE seq = 25",
                                        "UPDATE audit_log SET seq = 25 WHERE seq = 26",
                                        "UPDATE audit_log SET seq = 26 WHERE seq = 1000")
    result = await verify(pool)
    assert not result.ok and result.first_bad_seq == 25
    await rehash(pool, "seq IN (25, 26)")
    with_witness = await verify(pool, witness_pool)
    assert with_witness.first_bad_seq == 25 and with_witness.report.failure.kind is FailureKind.ENTRIES_REORDERED
    assert await hub_restarts_and_publishes(pool, witness) == Rejection.INCONSISTENT_PROOF.value


async def test_a_truncated_log_with_its_checkpoints_removed_is_caught_by_the_witness(pool, witness_pool):
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "DELETE FROM audit_log WHERE seq >= 30",
                                        "DELETE FROM audit_checkpoints WHERE size > 30",
                                        "UPDATE audit_log_head SET next_seq = 30")
    own = await verify(pool)
    assert own.ok, "the hub's own database now tells a consistent, shorter story"
    with_witness = await verify(pool, witness_pool)
    assert with_witness.report.failure.kind is FailureKind.TRUNCATED and with_witness.first_bad_seq == 30
    assert await hub_restarts_and_publishes(pool, witness) == Rejection.SIZE_WENT_BACKWARDS.value


async def test_a_truncate_of_the_whole_table_is_caught_by_the_witness(pool, witness_pool):
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "TRUNCATE audit_log", "TRUNCATE audit_checkpoints",
                                        "UPDATE audit_log_head SET next_seq = 0")
    with_witness = await verify(pool, witness_pool)
    assert with_witness.report.failure.kind is FailureKind.TRUNCATED and with_witness.first_bad_seq == 0
    assert await hub_restarts_and_publishes(pool, witness) == Rejection.SIZE_WENT_BACKWARDS.value


async def test_a_tail_deleted_after_the_last_checkpoint_shows_in_the_counter(pool):
    log = await build_log(pool, (20,))
    for n in range(20, 25):
        await log.append(hop(n))
    await log.stop()
    await as_superuser_without_triggers(pool, "DELETE FROM audit_log WHERE seq >= 22")
    result = await verify(pool)
    assert not result.ok and any("counter" in p for p in result.problems) and result.first_bad_seq == 22


async def test_re_signed_history_is_a_fork_for_the_witness(pool, witness_pool):
    """With the hub's key stolen, rewritten entries can be re-signed; the witness's checkpoints still disagree."""
    witness = await witnessed_log(pool, witness_pool)
    await as_superuser_without_triggers(pool, "UPDATE audit_log SET actor = 'rewritten' WHERE seq = 5",
                                        "DELETE FROM audit_checkpoints")
    await rehash(pool, "seq = 5")
    log = appender(pool)
    await log.start()
    await log.checkpoint_now()
    await log.stop()
    assert (await verify(pool)).ok, "re-signed: consistent on its own"
    with_witness = await verify(pool, witness_pool)
    assert with_witness.report.failure.kind is FailureKind.CHECKPOINT_FORK
    previous = 0
    message = CheckpointPublished.model_validate_json(
        log.checkpoint_message((await adapters.checkpoints(pool, LOG_ID))[-1], previous).body)
    outcome = await witness.observe(message)
    assert outcome.status == "rejected" and outcome.reason == Rejection.SAME_SIZE_DIFFERENT_ROOT.value


# The witness on its own


async def test_the_witness_refuses_an_unknown_key_and_learns_only_on_first_use(pool, witness_pool):
    log = await build_log(pool, (10, 20))
    await log.stop()
    strict = await new_witness(witness_pool, trust_on_first_use=False)
    assert await publish_to(strict, log, pool) == ["rejected", "rejected"]
    assert (await strict.view())["counts"]["rejected"] == 2
    tofu = await new_witness(witness_pool)
    assert await publish_to(tofu, log, pool) == ["accepted", "accepted"]
    impostor = signer_from_key(LOG_ID, private_key_from_raw(bytes(range(2, 34))))
    forged_log = AuditAppender(pool, impostor)
    await forged_log.start()
    await forged_log.append(hop(99))
    await forged_log.checkpoint_now()
    await forged_log.stop()
    forged = (await adapters.checkpoints(pool, LOG_ID))[-1]
    message = CheckpointPublished.model_validate_json(forged_log.checkpoint_message(forged, 20).body)
    outcome = await tofu.observe(message)
    assert outcome.status == "rejected" and outcome.reason == Rejection.BAD_SIGNATURE.value
    restarted = await new_witness(witness_pool)
    assert restarted.latest.size == 20 and restarted.mirror_size == 20


async def test_a_checkpoint_arriving_before_its_predecessor_waits_then_is_accepted(pool, witness_pool):
    log = await build_log(pool, (10, 20, 30))
    await log.stop()
    stored = await adapters.checkpoints(pool, LOG_ID)
    messages = [CheckpointPublished.model_validate_json(log.checkpoint_message(c, p).body)
                for c, p in zip(stored, [0, 10, 20])]
    witness = await new_witness(witness_pool)
    assert (await witness.observe(messages[0])).status == "accepted"
    assert (await witness.observe(messages[2])).status == "pending"
    assert (await witness.observe(messages[1])).status == "accepted"
    assert witness.latest.size == 30 and witness.mirror_size == 30
    assert (await witness.observe(messages[1])).status == "duplicate"
    assert (await verify(pool, witness_pool)).ok


async def test_a_witness_keeping_only_recent_leaves_judges_a_late_older_checkpoint_on_every_leaf(pool, witness_pool):
    log = await build_log(pool, tuple(range(500, 3_001, 500)))
    await log.stop()
    stored = {c.size: c for c in await adapters.checkpoints(pool, LOG_ID)}
    witness = await new_witness(witness_pool, keep_recent_leaves=1_024)
    first = CheckpointPublished.model_validate_json(log.checkpoint_message(stored[500], 0).body)
    leap = CheckpointPublished.model_validate_json(log.checkpoint_message(stored[3_000], 500).body)
    late = CheckpointPublished.model_validate_json(log.checkpoint_message(stored[1_000], 500).body)
    assert (await witness.observe(first)).status == "accepted"
    assert (await witness.observe(leap)).status == "accepted"
    # the mirror no longer holds the hashes below size 1,000 in memory: the late checkpoint is judged on storage's
    outcome = await witness.observe(late)
    assert outcome.status == "accepted" and "matches the mirrored leaves up to 1000" in outcome.detail
    assert witness.latest.size == 3_000 and witness.mirror_size == 3_000
    assert (await verify(pool, witness_pool)).ok


async def test_a_checkpoint_published_after_its_hashes_left_memory_is_rebuilt_from_storage(pool, witness_pool):
    unpublished = await build_log(pool, tuple(range(500, 3_001, 500)))
    await unpublished.stop()
    sent: list[OutgoingMessage] = []

    async def publish(message: OutgoingMessage) -> None:
        sent.append(message)

    log = appender(pool, publish=publish, keep_recent_leaves=1_024)
    await log.start()
    try:
        for _ in range(200):
            if len(sent) == 6:
                break
            await asyncio.sleep(0.05)
    finally:
        await log.stop()
    assert log.tree.first_held > 1_000
    witness = await new_witness(witness_pool)
    outcomes = [(await witness.observe(CheckpointPublished.model_validate_json(m.body))).status for m in sent]
    assert outcomes == ["accepted"] * 6 and witness.mirror_size == 3_000


# The API: queries, reads recorded, CSV


async def test_the_api_records_who_read_a_trail_and_answers_platform_periods_and_csv(pool):
    log = appender(pool)
    await log.start()
    message_id = uuid4()
    try:
        for n in range(6):
            await log.append(hop(n, message_id=message_id))
        store = AsyncpgTokenStore(pool)
        auth = ApiAuth(tokens=store, events=AsyncpgSecurityEventLog(pool), limiter=RateLimiter(100, 100))
        tokens = {}
        for name in ("dpo.diallo", "auditor.sow"):
            tokens[name] = new_token()
            await store.add(ApiUser(tokens[name].token_id, "HUB", name, "auditor", tokens[name].secret_sha256))
        as_user = {name: {"Authorization": f"Bearer {token.text}"} for name, token in tokens.items()}
        api = build_api(platform="HUB", queries=adapters.AsyncpgAuditQueries(pool), auth=auth, recorder=log)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://audit",
                                     headers=as_user["auditor.sow"]) as client:
            trail = await client.get(f"/v1/audit/messages/{message_id}", headers=as_user["dpo.diallo"])
            assert trail.status_code == 200 and trail.json()["hops"] == HOPS
            again = await client.get(f"/v1/audit/messages/{message_id}")
            assert again.json()["hops"] == HOPS, "reads are not part of the trail"
            reads = (await client.get("/v1/audit/reads", params={"message_id": str(message_id)})).json()
            assert [r["actor"] for r in reads["reads"]] == ["dpo.diallo", "auditor.sow"]
            period = await client.get("/v1/audit/platforms/ne", params={
                "since": (START - timedelta(seconds=1)).isoformat(), "until": (START + timedelta(seconds=2)).isoformat()})
            body = period.json()
            assert [(e["hop"], e["direction"]) for e in body["entries"]] == [("accepted", "sent"), ("published", "sent")]
            received = (await client.get("/v1/audit/platforms/ML")).json()["entries"]
            assert {e["direction"] for e in received} == {"received", "acknowledged"}
            csv = await client.get(f"/v1/audit/messages/{message_id}", params={"format": "csv"})
            assert csv.headers["content-type"].startswith("text/csv")
            lines = csv.text.splitlines()
            assert lines[0].startswith("seq,at,platform,hop,direction") and len(lines) == 7
            assert (await client.get(f"/v1/audit/messages/{uuid4()}")).status_code == 404
            state = (await client.get("/v1/audit/witness")).json()
            assert state["log"]["size"] >= 6
        readers = await pool.fetch("SELECT actor FROM audit_log WHERE hop = 'read' AND message_id = $1", message_id)
        assert len(readers) == 5  # two trails, two period queries touching it, one CSV export
    finally:
        await log.stop()


# The command line


async def run_cli(postgres_url: str, database_prefix: str, key_file: Path, *arguments: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": postgres_url, "PCMS_DATABASE_PREFIX": database_prefix,
           "PCMS_AUDIT_SIGNING_KEY_FILE": str(key_file), "COLUMNS": "200"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli.main", "audit", *arguments, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_the_cli_verifies_proves_queries_and_purges(pool, witness_pool, postgres_url, database_prefix, tmp_path):
    key_file = tmp_path / "hub.pem"
    key_file.write_bytes(private_key_to_pem(SIGNER.private_key))
    witness = await witnessed_log(pool, witness_pool)
    assert witness.latest.size == 60
    cli = lambda *a: run_cli(postgres_url, database_prefix, key_file, *a)  # noqa: E731

    code, output = await cli("verify", "--platform", "HUB", "--witness", "NE")
    assert code == 0 and "intact" in output, output
    code, output = await cli("proof", "--message-id", str(UUID(int=2)))
    assert code == 0 and '"verified": true' in output and '"signature_valid": true' in output, output
    code, output = await cli("trail", str(UUID(int=2)))
    assert code == 0 and '"hops"' in output
    code, output = await cli("reads", str(UUID(int=2)), "--format", "csv")
    assert code == 0 and "pcms audit trail" in output, output
    code, output = await cli("platform", "ML", "--since", "2026-11-29", "--format", "csv")
    assert code == 0 and output.count(",received,") == 10, output
    await as_superuser_without_triggers(pool, "UPDATE audit_log SET detail = '{\"n\": 0}' WHERE seq = 44")
    code, output = await cli("verify", "--json")
    assert code == 1 and '"first_bad_seq": 44' in output, output

    code, output = await cli("purge", "--before", "2026-11-30")
    assert code == 2 and "retention" in output
    code, output = await cli("purge", "--before", "2026-11-29T08:00:30+00:00", "--force")
    assert code == 0 and "content of 30 entries" in output, output
    code, output = await cli("verify", "--witness", "NE")
    assert code == 1 and "first bad entry: 44" in output, "the purge blanked 0..29 only: 44 is still caught"
