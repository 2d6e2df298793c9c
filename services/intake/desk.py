"""Group commit of the API's submissions: those that arrive while a transaction of submissions runs are accepted
together in the next one.

An officer's submission is answered once its transaction commits. Alone, a submission has a transaction of its
own and waits for nothing, as before. When many arrive at once (a platform's clients under load), each transaction
would cost a commit, a round trip per statement and a relay wake; the desk instead accepts all that arrived
meanwhile (up to `max_group`) with one statement per table and one commit, as the consumers take a delivery batch.
Each submission keeps its own outcome: its message, or the error that refuses it alone (another request holds its
idempotency key). An error of the transaction itself (the database away) answers every submission of the group.

Lanes have desks of their own: an alert never waits behind a group of routine messages.
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable

import structlog

from shared.contracts.messages import Message
from services.intake.handlers import Submission

log = structlog.get_logger("intake.desk")

AcceptTogether = Callable[[list[Submission]], Awaitable[list[Message | Exception]]]


class SubmissionDesk:
    def __init__(self, accept_together: AcceptTogether, *, lane_of: Callable[[Submission], str],
                 max_group: int = 100) -> None:
        self._accept_together = accept_together
        self._lane_of = lane_of
        self._max_group = max_group
        self._waiting: dict[str, list[tuple[Submission, asyncio.Future[Message]]]] = {}
        self._clerks: dict[str, asyncio.Task[None]] = {}

    async def submit(self, submission: Submission) -> Message:
        """The accepted message, or the exception that refused this submission."""
        lane = self._lane_of(submission)
        answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(lane, []).append((submission, answer))
        if lane not in self._clerks:
            # a context of its own: the clerk accepts for many requests, so it carries none's log context
            self._clerks[lane] = asyncio.create_task(self._accept_waiting(lane), context=contextvars.Context())
        return await answer  # cancelled with its request (the client gone), the submission is still accepted

    async def _accept_waiting(self, lane: str) -> None:
        try:
            while waiting := self._waiting.get(lane):
                group, self._waiting[lane] = waiting[:self._max_group], waiting[self._max_group:]
                await self._accept(group)
        finally:
            del self._clerks[lane]

    async def _accept(self, group: list[tuple[Submission, asyncio.Future[Message]]]) -> None:
        try:
            outcomes = await self._accept_together([submission for submission, _ in group])
        except Exception as error:  # noqa: BLE001 - every submission of the group is answered with it
            log.warning("submissions_not_accepted", submissions=len(group), error=f"{type(error).__name__}: {error}")
            outcomes = [error] * len(group)
        for (_, answer), outcome in zip(group, outcomes, strict=True):
            if answer.done():
                continue
            if isinstance(outcome, Exception):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)
