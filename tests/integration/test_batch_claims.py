"""The claims of a batch's items against the real PostgreSQL: read together, written together at the commit, and a
claim another transaction made meanwhile lets nothing of the batch commit."""

from uuid import UUID, uuid4

import pytest

from shared.db.uow import AsyncpgUnitOfWork, ClaimedMeanwhile, SharedTransaction
from shared.messaging.outgoing import OutgoingMessage

pytestmark = pytest.mark.integration


def a_row(message_id: str) -> OutgoingMessage:
    return OutgoingMessage(exchange="pcms.audit", routing_key="audit.enriched", body=b"{}", type="pcms.hop_recorded",
                           message_id=message_id)


async def claimed_by(pool, consumer: str) -> set[UUID]:
    return {row[0] for row in await pool.fetch("SELECT message_id FROM processed_messages WHERE consumer = $1",
                                                consumer)}


async def test_items_of_a_batch_are_claimed_once_each_and_one_processed_before_is_a_duplicate(pool):
    consumer = f"test-{uuid4()}"
    before, first, second = uuid4(), uuid4(), uuid4()
    async with AsyncpgUnitOfWork(pool, lambda c: c) as alone:
        assert await alone.claim(consumer, before)

    answers = []
    async with SharedTransaction(pool, [before, first, second]):
        for message_id in (before, first, second, first):
            async with AsyncpgUnitOfWork(pool, lambda c: c) as uow:
                answers.append(await uow.claim(consumer, message_id))
        assert await claimed_by(pool, consumer) == {before}, "the batch's claims are written with its commit"

    assert answers == [False, True, True, False]
    assert await claimed_by(pool, consumer) == {before, first, second}


async def test_an_id_that_is_not_an_item_s_is_claimed_at_once_inside_the_batch(pool):
    consumer = f"test-{uuid4()}"
    item, other = uuid4(), uuid4()
    async with SharedTransaction(pool, [item]):
        async with AsyncpgUnitOfWork(pool, lambda c: c) as uow:
            assert await uow.claim(consumer, other)
            assert not await uow.claim(consumer, other)
            assert await uow.store.fetchval(
                "SELECT count(*) FROM processed_messages WHERE consumer = $1 AND message_id = $2", consumer, other) == 1
    assert await claimed_by(pool, consumer) == {other}


async def test_an_item_claimed_meanwhile_by_another_transaction_lets_nothing_of_the_batch_commit(pool):
    consumer = f"test-{uuid4()}"
    items = [uuid4(), uuid4()]
    row_id = f"{consumer}:row"
    with pytest.raises(ClaimedMeanwhile):
        async with SharedTransaction(pool, items):
            for message_id in items:
                async with AsyncpgUnitOfWork(pool, lambda c: c) as uow:
                    assert await uow.claim(consumer, message_id)
                    uow.outbox.add(a_row(row_id))
            async with pool.acquire() as elsewhere:
                await elsewhere.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)",
                                        consumer, items[1])
    assert await claimed_by(pool, consumer) == {items[1]}
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE message_id = $1", row_id) == 0
