"""Work a handler leaves to the end of its batch: once per key, with every item, only when the pass completes."""

import pytest

from shared.messaging.batch_end import batch_end, defer_to_batch_end, deferred_in_batch

pytestmark = pytest.mark.unit


async def test_outside_a_batch_nothing_is_deferred_and_the_caller_does_the_work_itself() -> None:
    async def finish(items: list[str]) -> None:
        raise AssertionError("never called")

    assert defer_to_batch_end("receipt", "m1", finish) is False


async def test_each_key_finishes_once_with_its_items_in_order_at_the_batch_end() -> None:
    finished: list[tuple[str, list[str]]] = []

    def finisher(key: str):  # noqa: ANN202
        async def finish(items: list[str]) -> None:
            finished.append((key, items))
        return finish

    with batch_end() as end:
        for key, item in [("NE", "m1"), ("MR", "m2"), ("NE", "m3")]:
            assert defer_to_batch_end(key, item, finisher(key)) is True
        assert finished == []
        await end.run()

    assert finished == [("NE", ["m1", "m3"]), ("MR", ["m2"])]
    assert defer_to_batch_end("NE", "m4", finisher("NE")) is False  # the batch is closed


async def test_a_pass_that_is_abandoned_finishes_nothing_and_the_next_pass_starts_empty() -> None:
    finished: list[list[str]] = []

    async def finish(items: list[str]) -> None:
        finished.append(items)

    with pytest.raises(RuntimeError), batch_end():
        defer_to_batch_end("NE", "m1", finish)
        raise RuntimeError("an item failed")
    with batch_end() as end:
        defer_to_batch_end("NE", "m2", finish)
        await end.run()

    assert finished == [["m2"]]


async def test_a_later_item_sees_what_earlier_items_left_under_a_key_until_the_batch_end_runs() -> None:
    async def finish(items: list[str]) -> None:
        pass

    assert deferred_in_batch("decisions") == []
    with batch_end() as end:
        defer_to_batch_end("decisions", "m1", finish)
        defer_to_batch_end("receipts", "r1", finish)
        defer_to_batch_end("decisions", "m2", finish)
        assert deferred_in_batch("decisions") == ["m1", "m2"]
        assert deferred_in_batch("inbox") == []
        await end.run()
        assert deferred_in_batch("decisions") == []


async def test_what_a_finish_defers_runs_in_the_same_batch_end_after_it_and_sees_its_own_kind_deferred() -> None:
    finished: list[tuple[str, list[str]]] = []
    seen_while_enriching: list[list[str]] = []

    async def decide(items: list[str]) -> None:
        finished.append(("decisions", items))

    async def enrich(items: list[str]) -> None:
        finished.append(("enriched", items))
        for item in items:
            seen_while_enriching.append(deferred_in_batch("decisions"))
            defer_to_batch_end("decisions", f"decision of {item}", decide)

    with batch_end() as end:
        defer_to_batch_end("enriched", "m1", enrich)
        defer_to_batch_end("enriched", "m2", enrich)
        await end.run()
        assert deferred_in_batch("decisions") == []

    assert finished == [("enriched", ["m1", "m2"]), ("decisions", ["decision of m1", "decision of m2"])]
    assert seen_while_enriching == [[], ["decision of m1"]]
