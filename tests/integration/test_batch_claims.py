"""A batch's claims against the real PostgreSQL: read once per consumer, written together at the commit, and a
copy of an item committed meanwhile lets nothing of the batch commit (BatchContended) so that it runs again."""

from uuid import uuid4

import pytest

from shared.db.uow import AsyncpgUnitOfWork, BatchClaims, SharedTransaction
from shared.messaging.errors import BatchContended
from shared.messaging.names import AUDIT
from shared.messaging.outgoing import OutgoingMessage

pytestmark = pytest.mark.integration


async def claimed(pool, consumer: str) -> set:
    return {row[0] for row in await pool.fetch("SELECT message_id FROM processed_messages WHERE consumer = $1",
                                               consumer)}


async def commit_claim(pool, consumer: str, message_id) -> None:
    await pool.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)", consumer, message_id)


def a_row(consumer: str) -> OutgoingMessage:
    return OutgoingMessage(exchange=AUDIT, routing_key="audit.enriched", body=b"{}", type="pcms.hop_recorded",
                           message_id=f"{consumer}:{uuid4()}")


async def outbox_rows(pool, consumer: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE message_id LIKE $1", f"{consumer}:%")


async def test_the_claims_of_a_batch_are_written_only_when_it_commits(pool):
    consumer, ids = f"test-{uuid4()}", [uuid4() for _ in range(3)]
    async with SharedTransaction(pool, [str(i) for i in ids]):
        for message_id in ids:
            async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                assert await uow.claim(consumer, message_id)
        assert await claimed(pool, consumer) == set(), "nothing is written before the commit"
    assert await claimed(pool, consumer) == set(ids)


async def test_an_item_claimed_before_the_batch_or_earlier_in_it_is_a_duplicate(pool):
    consumer, ids = f"test-{uuid4()}", [uuid4() for _ in range(2)]
    await commit_claim(pool, consumer, ids[0])
    async with SharedTransaction(pool, ids):
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            assert not await uow.claim(consumer, ids[0])
            assert await uow.claim(consumer, ids[1])
            assert not await uow.claim(consumer, ids[1])
            assert await uow.claim(f"{consumer}-other", ids[1]), "claims are per consumer"
    assert await claimed(pool, consumer) == set(ids)
    assert await claimed(pool, f"{consumer}-other") == {ids[1]}


async def test_an_id_not_among_the_items_is_claimed_at_once(pool):
    consumer, stray = f"test-{uuid4()}", uuid4()
    async with SharedTransaction(pool, [str(uuid4()), "not-a-uuid"]):
        async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
            assert await uow.claim(consumer, stray)
            assert await uow.store.fetchval(
                "SELECT count(*) FROM processed_messages WHERE consumer = $1", consumer) == 1
            assert not await uow.claim(consumer, stray)
    assert await claimed(pool, consumer) == {stray}


async def test_a_copy_of_an_item_committed_meanwhile_lets_nothing_of_the_batch_commit(pool):
    consumer, ids = f"test-{uuid4()}", [uuid4() for _ in range(3)]
    with pytest.raises(BatchContended):
        async with SharedTransaction(pool, ids):
            for message_id in ids:
                async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                    assert await uow.claim(consumer, message_id)
                    uow.outbox.add(a_row(consumer))
            await commit_claim(pool, consumer, ids[1])
    assert await claimed(pool, consumer) == {ids[1]}, "only the copy's claim"
    assert await outbox_rows(pool, consumer) == 0

    async with SharedTransaction(pool, ids):
        for message_id in ids:
            async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                if await uow.claim(consumer, message_id):
                    uow.outbox.add(a_row(consumer))
    assert await claimed(pool, consumer) == set(ids)
    assert await outbox_rows(pool, consumer) == 2, "the next pass applies the two others"


async def test_an_effect_that_meets_a_copy_committed_meanwhile_is_contention_not_a_failure(pool):
    consumer, message_id = f"test-{uuid4()}", uuid4()
    await commit_claim(pool, f"{consumer}-effect", message_id)
    with pytest.raises(BatchContended) as raised:
        async with SharedTransaction(pool, [message_id]):
            async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                assert await uow.claim(consumer, message_id)
                await uow.store.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)",
                                        f"{consumer}-effect", message_id)
    assert "UniqueViolationError" in str(raised.value)
    assert await claimed(pool, consumer) == set()


async def test_a_batch_takes_its_connection_back_to_the_pool_when_contended(pool):
    consumer, message_id = f"test-{uuid4()}", uuid4()
    free_before = pool.get_idle_size() + (pool.get_max_size() - pool.get_size())
    with pytest.raises(BatchContended):
        async with SharedTransaction(pool, [message_id]):
            async with AsyncpgUnitOfWork(pool, lambda connection: connection) as uow:
                assert await uow.claim(consumer, message_id)
            await commit_claim(pool, consumer, message_id)
    assert pool.get_idle_size() + (pool.get_max_size() - pool.get_size()) == free_before


class RecordingLookups:
    """The real connection, noting the ids each look-up of earlier claims asks for."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self.looked_up: list[set] = []

    async def fetch(self, query: str, *args):
        self.looked_up.append(set(args[1]))
        return await self._connection.fetch(query, *args)

    def __getattr__(self, name: str):
        return getattr(self._connection, name)


async def test_each_consumer_looks_up_only_the_group_of_ids_it_claims_from_and_sees_duplicates_in_every_group(pool):
    enriching, routing = f"test-{uuid4()}", f"test-{uuid4()}"
    items, derived = [uuid4(), uuid4()], [uuid4(), uuid4()]
    await commit_claim(pool, routing, derived[0])
    await commit_claim(pool, routing, items[1])
    claims = BatchClaims(items, [*derived, items[0]])
    async with pool.acquire() as connection, connection.transaction():
        recording = RecordingLookups(connection)
        assert [await claims.claim(recording, enriching, i) for i in items] == [True, True]
        assert [await claims.claim(recording, routing, i) for i in derived] == [False, True]
        assert recording.looked_up == [set(items), set(derived)], "one look-up per consumer and group"
        assert [await claims.claim(recording, routing, i) for i in items] == [True, False]
        assert recording.looked_up[2:] == [set(items)]
        await claims.write(connection)
    assert await claimed(pool, enriching) == set(items)
    assert await claimed(pool, routing) == {*items, *derived}
