"""An in-memory stand-in for asyncpg.Pool's acquire and release, for unit tests of what draws on a pool."""

import asyncio


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number


class FakeConnectionPool:
    """`size` connections; an acquire waits, in turn, while all of them are out."""

    def __init__(self, size: int) -> None:
        self._free = [FakeConnection(number) for number in range(size)]
        self._changed = asyncio.Condition()
        self.out = 0

    async def acquire(self) -> FakeConnection:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._free))
            self.out += 1
            return self._free.pop()

    async def release(self, connection: FakeConnection) -> None:
        async with self._changed:
            self.out -= 1
            self._free.append(connection)
            self._changed.notify()
