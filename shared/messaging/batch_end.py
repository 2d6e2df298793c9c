"""Work a handler leaves to the end of its batch: what the items of one delivery have in common is done once.

While the runtime handles the items of a `BatchRelayed` (shared/messaging/runtime.py), a handler may defer
part of its work: each item it defers joins the others of the same key, and once every item is handled the
key's `finish` runs once with all of them, in the batch's transaction. A pass the runtime abandons (an item
refused, a failure) runs nothing; the next pass defers again. Outside a batch nothing is open and the handler
does the work itself, at once.
"""

from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shared.messaging.ports import UnitOfWork

Finish = Callable[[list[Any]], Awaitable[None]]


class BatchEnd:
    def __init__(self) -> None:
        self._deferred: dict[Hashable, tuple[Finish, list[Any]]] = {}

    def defer(self, key: Hashable, item: Any, finish: Finish) -> None:
        self._deferred.setdefault(key, (finish, []))[1].append(item)

    def deferred(self, key: Hashable) -> list[Any]:
        return list(self._deferred[key][1]) if key in self._deferred else []

    async def run(self) -> None:
        """Each key's finish once, in the order their first items were deferred; then, the same way, what those
        finishes deferred in turn (the enrichment's routes its messages' decisions)."""
        while self._deferred:
            deferred, self._deferred = self._deferred, {}
            for finish, items in deferred.values():
                await finish(items)


_OPEN: ContextVar[BatchEnd | None] = ContextVar("pcms_batch_end", default=None)


@contextmanager
def batch_end() -> Iterator[BatchEnd]:
    end = BatchEnd()
    token = _OPEN.set(end)
    try:
        yield end
    finally:
        _OPEN.reset(token)


def defer_to_batch_end(key: Hashable, item: Any, finish: Finish) -> bool:
    """Leaves `item` to `finish` at the end of the open batch, with the other items of `key`; False when no batch
    is open, and the caller then does the work now."""
    end = _OPEN.get()
    if end is None:
        return False
    end.defer(key, item, finish)
    return True


async def now_or_at_batch_end(key: Hashable, item: Any, *, uow: UnitOfWork[Any],
                              write: Callable[[list[Any]], Awaitable[object]]) -> None:
    """`write` of the items of the open batch under `key`, once, at the batch's end and in its transaction (through
    `uow`, entered again); of this item alone, at once, outside a batch. `write` reads `uow.store` when it runs: the
    store of the unit of work then open."""
    async def at_batch_end(items: list[Any]) -> None:
        async with uow:
            await write(items)

    if not defer_to_batch_end(key, item, at_batch_end):
        await write([item])


def deferred_in_batch(key: Hashable) -> list[Any]:
    """The items earlier items of the open batch left under `key`, in order: what a later item must see as done
    although it is not yet written. Empty outside a batch."""
    end = _OPEN.get()
    return end.deferred(key) if end is not None else []
