"""The claims of a batch's items against the real PostgreSQL: taken together by one statement, with the meaning each
item's own claim had (an id another transaction holds is waited for, and is the other's once it commits)."""

import asyncio
from uuid import UUID, uuid4

import pytest

from shared.db.uow import AsyncpgUnitOfWork, SharedTransaction

pytestmark = pytest.mark.integration


async def claimed_by(pool, consumer: str) -> set[UUID]:
    return {row[0] for row in await pool.fetch("SELECT message_id FROM processed_messages WHERE consumer = $1",
                                                consumer)}


async def claims_in_a_batch(pool, items: list[UUID], consumer: str, claimed: list[UUID]) -> list[bool]:
    answers = []
    async with SharedTransaction(pool, items):
        for message_id in claimed:
            async with AsyncpgUnitOfWork(pool, lambda c: c) as uow:
                answers.append(await uow.claim(consumer, message_id))
    return answers


async def test_each_item_is_claimed_once_and_one_processed_before_is_a_duplicate(pool):
    consumer = f"test-{uuid4()}"
    before, first, second = uuid4(), uuid4(), uuid4()
    async with AsyncpgUnitOfWork(pool, lambda c: c) as alone:
        assert await alone.claim(consumer, before)

    answers = await claims_in_a_batch(pool, [before, first, second], consumer, [before, first, second, first])

    assert answers == [False, True, True, False]
    assert await claimed_by(pool, consumer) == {before, first, second}


async def test_an_item_no_handler_claimed_is_left_unclaimed_for_a_later_delivery(pool):
    consumer = f"test-{uuid4()}"
    handled, refused_before_its_handler = uuid4(), uuid4()

    assert await claims_in_a_batch(pool, [handled, refused_before_its_handler], consumer, [handled]) == [True]

    assert await claimed_by(pool, consumer) == {handled}
    assert await claims_in_a_batch(pool, [refused_before_its_handler], consumer, [refused_before_its_handler]) == [True]


async def test_an_id_that_is_not_an_item_s_is_claimed_alone_at_once(pool):
    consumer = f"test-{uuid4()}"
    item, other = uuid4(), uuid4()
    assert await claims_in_a_batch(pool, [item], consumer, [other, other, item]) == [True, False, True]
    assert await claimed_by(pool, consumer) == {item, other}


@pytest.mark.parametrize("other_commits", [True, False])
async def test_an_item_another_transaction_is_claiming_is_waited_for_and_is_the_other_s_once_it_commits(
        pool, other_commits: bool):
    consumer = f"test-{uuid4()}"
    first, contested = uuid4(), uuid4()
    async with pool.acquire() as elsewhere:
        transaction = elsewhere.transaction()
        await transaction.start()
        await elsewhere.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)",
                                consumer, contested)
        batch = asyncio.create_task(claims_in_a_batch(pool, [first, contested], consumer, [first, contested]))
        await asyncio.sleep(0.5)
        assert not batch.done(), "the batch waits for the transaction that holds one of its ids"
        await (transaction.commit() if other_commits else transaction.rollback())

    assert await asyncio.wait_for(batch, 10) == [True, not other_commits]
    assert await claimed_by(pool, consumer) == {first, contested}
