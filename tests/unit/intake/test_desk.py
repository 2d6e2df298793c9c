"""The API's submissions, accepted together when they arrive together (services/intake/desk.py)."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import structlog

from shared.contracts.messages import Message, stamp
from shared.contracts.registry import HOP_RECORDED, MESSAGE
from shared.messaging.fakes import FakeUnitOfWork
from services.intake.desk import SubmissionDesk
from services.intake.fakes import InMemoryIntakeStore
from services.intake.handlers import Submission, SubmissionInProgress, submit_together
from tests.unit.intake.test_handlers import submission

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


class Counter:
    """accept_together that records its groups; each submission's message is stamped from its command."""

    def __init__(self, *, refuse: str | None = None, fail_first: bool = False, hold: asyncio.Event | None = None):
        self.groups: list[list[str]] = []
        self._refuse, self._fail_first, self._hold = refuse, fail_first, hold

    async def __call__(self, submissions: list[Submission]) -> list[Message | Exception]:
        self.groups.append([s.idempotency_key or "" for s in submissions])
        if self._hold is not None:
            await self._hold.wait()
        if self._fail_first and len(self.groups) == 1:
            raise ConnectionError("database went away")
        return [SubmissionInProgress(s.idempotency_key) if s.idempotency_key == self._refuse
                else stamp(s.command, message_id=uuid4(), origin="NE", created_at=NOW) for s in submissions]


def desk_for(accept: Counter) -> SubmissionDesk:
    return SubmissionDesk(accept, lane_of=lambda s: s.command.priority.value)


def alert(key: str, priority: str = "urgent") -> Submission:
    return Submission(submission("alert", priority=priority), idempotency_key=key, actor="officer.ne.1")


async def test_a_lone_submission_is_accepted_at_once_in_a_transaction_of_its_own() -> None:
    accept = Counter()
    message = await desk_for(accept).submit(alert("a"))
    assert accept.groups == [["a"]] and message.origin == "NE"


async def test_submissions_that_arrive_while_a_group_is_accepted_go_together_in_the_next() -> None:
    hold = asyncio.Event()
    accept = Counter(hold=hold)
    desk = desk_for(accept)
    first = asyncio.create_task(desk.submit(alert("a")))
    await asyncio.sleep(0)
    later = [asyncio.create_task(desk.submit(alert(key))) for key in "bcd"]
    await asyncio.sleep(0)
    hold.set()
    messages = await asyncio.gather(first, *later)
    assert accept.groups == [["a"], ["b", "c", "d"]]
    assert len({m.message_id for m in messages}) == 4


async def test_a_group_is_at_most_max_group_submissions() -> None:
    hold = asyncio.Event()
    accept = Counter(hold=hold)
    desk = SubmissionDesk(accept, lane_of=lambda s: "urgent", max_group=2)
    tasks = [asyncio.create_task(desk.submit(alert(key))) for key in "abcde"]
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(*tasks)
    assert accept.groups == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_submission_refused_alone_answers_only_its_own_request() -> None:
    accept = Counter(refuse="b")
    desk = desk_for(accept)
    outcomes = await asyncio.gather(*(desk.submit(alert(key)) for key in "abc"), return_exceptions=True)
    assert [isinstance(outcome, SubmissionInProgress) for outcome in outcomes] == [False, True, False]
    assert outcomes[0].origin == outcomes[2].origin == "NE"


async def test_a_failed_transaction_answers_each_of_its_submissions_and_the_next_group_is_accepted() -> None:
    accept = Counter(fail_first=True)
    desk = desk_for(accept)
    failed = await asyncio.gather(*(desk.submit(alert(key)) for key in "ab"), return_exceptions=True)
    assert [type(outcome) for outcome in failed] == [ConnectionError, ConnectionError]
    assert (await desk.submit(alert("a"))).origin == "NE"
    assert accept.groups == [["a", "b"], ["a"]]


async def test_an_urgent_submission_never_waits_behind_a_group_of_routine_ones() -> None:
    hold = asyncio.Event()
    routine_accept = Counter(hold=hold)
    urgent_accept = Counter()

    async def by_lane(submissions: list[Submission]) -> list[Message | Exception]:
        lane = submissions[0].command.priority.value
        return await (urgent_accept if lane == "urgent" else routine_accept)(submissions)

    desk = SubmissionDesk(by_lane, lane_of=lambda s: s.command.priority.value)
    routine = asyncio.create_task(desk.submit(alert("r", priority="routine")))
    await asyncio.sleep(0)
    assert (await asyncio.wait_for(desk.submit(alert("u")), timeout=5)).origin == "NE"
    assert urgent_accept.groups == [["u"]] and not routine.done()
    hold.set()
    await routine


async def test_a_submission_whose_request_is_cancelled_is_still_accepted_with_its_group() -> None:
    hold = asyncio.Event()
    accept = Counter(hold=hold)
    desk = desk_for(accept)
    gone = asyncio.create_task(desk.submit(alert("gone")))
    stays = asyncio.create_task(desk.submit(alert("stays")))
    await asyncio.sleep(0)
    gone.cancel()
    hold.set()
    assert (await stays).origin == "NE"
    assert accept.groups == [["gone", "stays"]]


async def test_the_group_is_accepted_outside_any_one_requests_log_context() -> None:
    seen: list[dict] = []

    async def accept(submissions: list[Submission]) -> list[Message | Exception]:
        seen.append(structlog.contextvars.get_contextvars())
        return [stamp(s.command, message_id=uuid4(), origin="NE", created_at=NOW) for s in submissions]

    with structlog.contextvars.bound_contextvars(request_id="first-request"):
        await SubmissionDesk(accept, lane_of=lambda s: "urgent").submit(alert("a"))
    assert seen == [{}]


# --- submit_together ----------------------------------------------------------------------------------------------

async def test_submissions_accepted_together_commit_once_each_with_its_message_and_accepted_hop() -> None:
    uow = FakeUnitOfWork(InMemoryIntakeStore())
    outcomes = await submit_together([alert("a"), alert("b"), Submission(submission("rfi", recipients=["ML"]))],
                                     uow=uow, platform="NE", clock=lambda: NOW, new_id=uuid4)
    assert uow.commits == 1
    assert [m.kind for m in outcomes] == ["alert", "alert", "rfi"]
    assert outcomes[2].body.deadline is not None
    assert [row.message_id for row in uow.published if row.type == MESSAGE] == [str(m.message_id) for m in outcomes]
    assert len([row for row in uow.published if row.type == HOP_RECORDED]) == 3


async def test_a_key_repeated_in_a_group_or_accepted_before_answers_with_the_message_first_accepted() -> None:
    store = InMemoryIntakeStore()
    [earlier] = await submit_together([alert("k-1")], uow=FakeUnitOfWork(store), platform="NE", clock=lambda: NOW,
                                      new_id=uuid4)
    uow = FakeUnitOfWork(store)
    again, fresh, fresh_again = await submit_together([alert("k-1"), alert("k-2"), alert("k-2")], uow=uow,
                                                      platform="NE", clock=lambda: NOW, new_id=uuid4)
    assert again == earlier and fresh_again == fresh and fresh.message_id != earlier.message_id
    assert [row.message_id for row in uow.published if row.type == MESSAGE] == [str(fresh.message_id)]


async def test_a_key_another_transaction_records_meanwhile_refuses_only_that_submission() -> None:
    class TakenMeanwhile(InMemoryIntakeStore):
        async def record_sent_many(self, messages: list[tuple[Message, str | None]]) -> set:
            return {message.message_id for message, key in messages if key != "taken"}

    outcomes = await submit_together([alert("free"), alert("taken")], uow=FakeUnitOfWork(TakenMeanwhile()),
                                     platform="NE", clock=lambda: NOW, new_id=uuid4)
    assert outcomes[0].kind == "alert" and isinstance(outcomes[1], SubmissionInProgress)
