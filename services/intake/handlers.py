"""What a platform does: accept what its officers submit, take in what the hub delivers, acknowledge."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from uuid import UUID, uuid5

from shared.contracts.bodies import AcknowledgementState
from shared.contracts.common import NationalService
from shared.contracts.events import Hop, HopRecorded, MatchFound, MessageDispatched, RoutingDecided
from shared.contracts.identity import event_id, hop_event_id
from shared.contracts.messages import Header, Message, SubmitAcknowledgement, SubmitRfi, stamp
from shared.contracts.registry import MESSAGE
from shared.messaging import names
from shared.messaging.batch_end import defer_to_batch_end, now_or_at_batch_end
from shared.messaging.outgoing import OutgoingMessage, outgoing
from shared.messaging.ports import DUPLICATE, Outcome, UnitOfWork
from services.intake.domain.acknowledgements import (
    Received,
    acknowledged_ids,
    acknowledgement_of,
    needs_receipt,
    receipt_group,
    receipts_by_group,
    receipts_for,
)
from services.intake.domain.delivery import DeliveryState, delivery_states
from services.intake.domain.rfis import (
    RfiStatus,
    deadline_by_urgency,
    overdue_notice_due,
    reminder_due,
    with_deadline,
)
from shared.policy import STANDARD_RFI_RULE, RfiRule
from services.intake.ports import IntakeStore

CONSUMER = "intake"


class NotInInbox(LookupError):
    pass


class SubmissionInProgress(RuntimeError):
    """Another request with the same idempotency key is being accepted right now."""


@dataclass(frozen=True)
class Submission:
    """One officer's submission over the API, as it waits to be accepted with those that arrived with it."""

    command: Header
    idempotency_key: str | None = None
    actor: str | None = None


async def submit_together(
    submissions: list[Submission],
    *,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    rfi_rule: RfiRule = STANDARD_RFI_RULE,
) -> list[Message | SubmissionInProgress]:
    """Accepts submissions that arrived together in one transaction, each exactly as submit_message accepts it
    alone: for each, in order, the message accepted (or accepted earlier under its idempotency key, also by an
    earlier submission of this call), or SubmissionInProgress when another transaction is accepting its key."""
    keys = list(dict.fromkeys(s.idempotency_key for s in submissions if s.idempotency_key is not None))
    async with uow:
        earlier = await uow.store.sent_with_keys(keys) if keys else {}
        now = clock()
        fresh: dict[str, Message] = {}
        stamped: list[Message | None] = []
        for submission in submissions:
            key = submission.idempotency_key
            if key is not None and (key in earlier or key in fresh):
                stamped.append(None)
                continue
            command = submission.command
            if isinstance(command, SubmitRfi):
                command = with_deadline(command, created_at=now, rule=rfi_rule)
            message = stamp(command, message_id=new_id(), origin=platform, created_at=now)
            stamped.append(message)
            if key is not None:
                fresh[key] = message
        recorded = await _record_and_publish(
            [(message, submission.idempotency_key, submission.actor)
             for submission, message in zip(submissions, stamped) if message], uow=uow, platform=platform)
        for message in stamped:
            if (message and message.message_id in recorded and message.kind == "rfi_response"
                    and message.in_reply_to is not None):
                await uow.store.close_rfi(message.in_reply_to, "received", None, RfiStatus.ANSWERED, message.message_id)
    outcomes: list[Message | SubmissionInProgress] = []
    for submission, message in zip(submissions, stamped):
        key = submission.idempotency_key
        if message is None:
            message = earlier.get(key) or fresh[key]  # type: ignore[index]
        outcomes.append(message if message.message_id in recorded or key in earlier else
                        SubmissionInProgress(f"idempotency key {key!r} is being used by another submission"))
    return outcomes


async def submit_message(
    command: Header,
    *,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    actor: str | None = None,
    idempotency_key: str | None = None,
    rfi_rule: RfiRule = STANDARD_RFI_RULE,
) -> Message:
    """Accepts a submission once: a repeat with the same idempotency key returns the message first accepted. The
    look-up and the acceptance share one transaction (an officer waits for it)."""
    [outcome] = await submit_together([Submission(command, idempotency_key, actor)], uow=uow, platform=platform,
                                      clock=clock, new_id=new_id, rfi_rule=rfi_rule)
    if isinstance(outcome, SubmissionInProgress):
        raise outcome
    return outcome


async def submit_many(
    commands: list[tuple[Header, str]],
    *,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    actor: str | None = None,
    lane: str | None = None,
) -> list[tuple[str, UUID | None]]:
    """Accepts many submissions in one transaction (a bulk import), each once by its idempotency key.

    For each command, in order: ("accepted", its new message id), ("duplicate", the id accepted earlier
    under its key, or None for a key repeated in this call), or ("retry", None) when another request
    is accepting the same key right now."""
    keys = [key for _, key in commands]
    async with uow:
        earlier = await uow.store.sent_ids_with_keys(keys)
        now = clock()
        fresh: dict[str, Message] = {}
        for command, key in commands:
            if key not in earlier and key not in fresh:
                fresh[key] = stamp(command, message_id=new_id(), origin=platform, created_at=now)
        recorded = await _record_and_publish([(message, key, actor) for key, message in fresh.items()], uow=uow,
                                             platform=platform, lane=lane)
    outcomes: list[tuple[str, UUID | None]] = []
    seen: set[str] = set()
    for key in keys:
        if key in earlier:
            outcomes.append(("duplicate", earlier[key]))
        elif key in seen:
            outcomes.append(("duplicate", fresh[key].message_id if fresh[key].message_id in recorded else None))
        elif fresh[key].message_id in recorded:
            outcomes.append(("accepted", fresh[key].message_id))
        else:
            outcomes.append(("retry", None))
        seen.add(key)
    return outcomes


async def acknowledge_message(
    message_id: UUID,
    state: AcknowledgementState,
    *,
    reason: str | None,
    submitted_by: NationalService,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    actor: str | None = None,
) -> Message:
    async with uow:
        received = await uow.store.inbox_message(message_id)
        if received is None:
            raise NotInInbox(f"message {message_id} is not in the inbox of {platform}")
        command = acknowledgement_of(received, state, reason=reason, submitted_by=submitted_by)
        ack = stamp(command, message_id=new_id(), origin=platform, created_at=clock())
        await _accept(ack, uow=uow, platform=platform, actor=actor)
        if state is AcknowledgementState.REFUSED and received.kind == "rfi":
            await uow.store.close_rfi(received.message_id, "received", None, RfiStatus.REFUSED, ack.message_id)
        uow.outbox.add(_hop(received, Hop.ACKNOWLEDGED, platform, clock(), qualifier=state.value, actor=actor,
                            detail={"state": state.value, "acknowledgement_id": str(ack.message_id)}))
    return ack


async def when_message_dispatched_take_it_in(
    event: MessageDispatched,
    *,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    lane: str | None = None,
    rfi_rule: RfiRule = STANDARD_RFI_RULE,
    receipt_uow: Callable[[], UnitOfWork[IntakeStore]] | None = None,
    queue_receipts: bool = False,
) -> Outcome | None:
    """Into the inbox (or, for an acknowledgement, the deliveries it confirms), with the delivered hop and a
    receipt to the origin. With `queue_receipts`, the receipt is queued in this transaction and sent by the next
    round of receipts (send_queued_receipts); given `receipt_uow` instead, the messages of one delivery batch are
    confirmed by one receipt per origin (shared/messaging/batch_end.py), written at the batch's end in its
    transaction; given neither, at once. The messages of one delivery batch go into the inbox, and their receipts
    into the queue, with one insert each at the batch's end."""
    message = event.message
    async with uow:
        if not await uow.claim(CONSUMER, event_id(event)):
            return DUPLICATE
        now = clock()
        if message.kind == "acknowledgement" and message.in_reply_to is not None:
            state = DeliveryState(message.body.state.value)
            changes = [(acknowledged, message.origin, state, message.body.reason)
                       for acknowledged in acknowledged_ids(message)]
            # a receipt may confirm a hundred messages: a statement each cost the origin three a message
            await now_or_at_batch_end("deliveries", changes, uow=uow, write=lambda acknowledgements: (
                uow.store.advance_deliveries([change for changes in acknowledgements for change in changes])))
            if message.body.state is AcknowledgementState.REFUSED:
                await uow.store.close_rfi(message.in_reply_to, "sent", message.origin, RfiStatus.REFUSED,
                                          message.message_id)
        else:
            await now_or_at_batch_end("inbox", event, uow=uow, write=partial(_take_in, uow=uow, rfi_rule=rfi_rule))
        uow.outbox.add(_hop(message, Hop.DELIVERED, platform, now, detail={"origin": message.origin, "rule": event.rule}))
        if needs_receipt(message) and queue_receipts:
            received, receipt_lane = Received.of(message), names.receipt_lane(lane)
            await now_or_at_batch_end(("queued receipts", receipt_lane), received, uow=uow,
                                       write=lambda items: uow.store.queue_receipts(items, lane=receipt_lane))
        elif needs_receipt(message):
            if receipt_uow is None or not defer_to_batch_end(("receipt", receipt_group(message)), message, partial(
                    _send_receipts, new_uow=receipt_uow, platform=platform, clock=clock, new_id=new_id, lane=lane)):
                await _accept_receipts([acknowledgement_of(message, AcknowledgementState.RECEIVED)], uow=uow,
                                       platform=platform, now=now, new_id=new_id, lane=names.receipt_lane(lane))


async def _take_in(events: list[MessageDispatched], *, uow: UnitOfWork[IntakeStore], rfi_rule: RfiRule) -> None:
    """Into the inbox with one insert, then, in their order, what each message changes besides."""
    await uow.store.save_inbox_items(events)
    for event in events:
        await _follow_up(event.message, uow=uow, rfi_rule=rfi_rule)


async def _send_receipts(
    messages: list[Message], *, new_uow: Callable[[], UnitOfWork[IntakeStore]], platform: str,
    clock: Callable[[], datetime], new_id: Callable[[], UUID], lane: str | None,
) -> None:
    """The receipts of one delivery batch's messages of one group: one for up to 100 of them."""
    async with new_uow() as uow:
        await _accept_receipts(receipts_for(messages), uow=uow, platform=platform, now=clock(), new_id=new_id,
                               lane=names.receipt_lane(lane))


async def send_queued_receipts(
    *, uow: UnitOfWork[IntakeStore], lane: str, platform: str, clock: Callable[[], datetime], new_id: Callable[[], UUID],
    limit: int,
) -> int:
    """A round of receipts: those queued on `lane` (up to `limit`), one receipt per origin and group for up to 100
    messages, sent in the transaction that removes them from the queue. Returns how many messages it confirmed."""
    async with uow:
        queued = await uow.store.take_queued_receipts(lane, limit=limit)
        await _accept_receipts(receipts_by_group(queued), uow=uow, platform=platform, now=clock(), new_id=new_id,
                               lane=lane)
    return len(queued)


async def _accept_receipts(
    commands: Iterable[SubmitAcknowledgement], *, uow: UnitOfWork[IntakeStore], platform: str, now: datetime,
    new_id: Callable[[], UUID], lane: str,
) -> None:
    """Automatic receipts, stamped by this platform and accepted like any message it sends (no officer acts)."""
    for command in commands:
        await _accept(stamp(command, message_id=new_id(), origin=platform, created_at=now), uow=uow, platform=platform,
                      actor=None, lane=lane)


async def when_routing_decided_record_it(notice: RoutingDecided, *, uow: UnitOfWork[IntakeStore]) -> Outcome | None:
    """The rule and each recipient's delivery state; the decisions of one delivery batch with one statement each
    at the batch's end."""
    async with uow:
        if not await uow.claim(CONSUMER, event_id(notice)):
            return DUPLICATE
        await now_or_at_batch_end("routing decided", notice, uow=uow, write=partial(_record_decisions, uow=uow))
    return None


async def _record_decisions(notices: list[RoutingDecided], *, uow: UnitOfWork[IntakeStore]) -> None:
    requests = {sent.message_id: sent for sent in
                await uow.store.record_routing_rules([(notice.message_id, notice.rule) for notice in notices])}
    await uow.store.advance_deliveries([
        (notice.message_id, recipient, state, reason)
        for notice in notices for state, recipients in delivery_states(notice) for recipient, reason in recipients])
    for notice in notices:
        sent = requests.get(notice.message_id)
        if sent is not None and sent.body.deadline is not None:
            for answerer in expected_answerers(sent, notice):
                await uow.store.track_rfi(sent.message_id, "sent", answerer, sent.created_at, sent.body.deadline)


async def when_match_found_record_it(notification: MatchFound, *, uow: UnitOfWork[IntakeStore]) -> Outcome | None:
    """The notifications of one delivery batch are kept with one insert at its end."""
    async with uow:
        if not await uow.claim(CONSUMER, event_id(notification)):
            return DUPLICATE
        await now_or_at_batch_end("matches", notification, uow=uow, write=lambda items: uow.store.save_matches(items))
    return None


async def record_reads(
    reads: list[tuple[UUID, UUID | None, str | None]],
    *,
    uow: UnitOfWork[IntakeStore],
    platform: str,
    actor: str | None,
    via: str,
    clock: Callable[[], datetime],
) -> None:
    """Who read which record through the API: one `read` audit entry per message shown (id, correlation, kind)."""
    now = clock()
    async with uow:
        for message_id, correlation_id, kind in reads:
            event = HopRecorded(
                event_id=uuid5(message_id, f"read:{platform}:{actor}:{now.isoformat()}"), message_id=message_id,
                correlation_id=correlation_id, kind=kind, hop=Hop.READ, platform=platform, service=CONSUMER,
                actor=actor, at=now, detail={"via": via},
            )
            uow.outbox.add(outgoing(event, exchange=names.platform_exchange(platform),
                                    routing_key=names.audit_key(Hop.READ)))


async def remind_and_flag_overdue(
    *, uow: UnitOfWork[IntakeStore], clock: Callable[[], datetime], rfi_rule: RfiRule = STANDARD_RFI_RULE
) -> int:
    """Reminds the addressed platform before a deadline; tells the requester once a deadline has passed."""
    now = clock()
    notices = 0
    async with uow:
        for rfi in await uow.store.open_rfis():
            if reminder_due(rfi, now, rfi_rule):
                await uow.store.notify("rfi_reminder", rfi, f"request {rfi.message_id} from {rfi.counterpart} "
                                                           f"is due by {rfi.deadline.isoformat()}")
                notices += 1
            elif overdue_notice_due(rfi, now):
                await uow.store.notify("rfi_overdue", rfi, f"{rfi.counterpart} has not answered request "
                                                          f"{rfi.message_id} due {rfi.deadline.isoformat()}")
                notices += 1
    return notices


def expected_answerers(sent: Message, notice: RoutingDecided) -> list[str]:
    """Who must answer an RFI: every recipient it was dispatched to; the hub only when it was asked by name."""
    asked = set(sent.recipients)
    return [code for code in notice.recipients if code in asked or ("ALL" in asked and code != "HUB")]


async def _follow_up(message: Message, *, uow: UnitOfWork[IntakeStore], rfi_rule: RfiRule) -> None:
    """What a delivered message changes besides the inbox: requests to answer, answers, alert updates."""
    if message.kind == "rfi":
        deadline = message.body.deadline or deadline_by_urgency(message.priority.value, message.created_at, rfi_rule)
        await uow.store.track_rfi(message.message_id, "received", message.origin, message.created_at, deadline)
    elif message.kind == "rfi_response" and message.in_reply_to is not None:
        await uow.store.close_rfi(message.in_reply_to, "sent", message.origin, RfiStatus.ANSWERED, message.message_id)
    elif message.kind == "alert" and message.body.supersedes is not None:
        await uow.store.supersede_alert(message.body.supersedes, by=message.message_id,
                                        cancelled=message.body.cancelled)


async def _accept(
    message: Message, *, uow: UnitOfWork[IntakeStore], platform: str, actor: str | None,
    idempotency_key: str | None = None, lane: str | None = None,
) -> None:
    if not await uow.store.record_sent(message, idempotency_key=idempotency_key):
        raise SubmissionInProgress(f"idempotency key {idempotency_key!r} is being used by another submission")
    _publish_accepted(message, uow=uow, platform=platform, actor=actor, lane=lane)


async def _record_and_publish(
    accepted: list[tuple[Message, str | None, str | None]], *, uow: UnitOfWork[IntakeStore], platform: str,
    lane: str | None = None,
) -> set[UUID]:
    """Records each (message, idempotency key, actor) whose id and key are free, with one statement, and puts the
    message and its accepted hop in the outbox, for the submissions of the API and of imports. The ids recorded."""
    recorded = await uow.store.record_sent_many([(message, key) for message, key, _ in accepted])
    for message, _, actor in accepted:
        if message.message_id in recorded:
            _publish_accepted(message, uow=uow, platform=platform, actor=actor, lane=lane)
    return recorded


def _publish_accepted(message: Message, *, uow: UnitOfWork[IntakeStore], platform: str, actor: str | None,
                      lane: str | None) -> None:
    lane = lane or names.lane_of(message.kind, message.priority)
    uow.outbox.add(outgoing(message, exchange=names.platform_exchange(platform),
                            routing_key=names.message_key(message.kind, message.priority, lane),
                            priority=names.LANE_PRIORITY[lane]))
    uow.outbox.add(_hop(message, Hop.ACCEPTED, platform, message.created_at, actor=actor, priority=names.LANE_PRIORITY[lane],
                        detail={"recipients": list(message.recipients), "submitted_by": message.submitted_by.value}))


def _hop(message: Message, hop: Hop, platform: str, at: datetime, *, qualifier: str = "",
         actor: str | None = None, detail: dict | None = None, priority: int = 0) -> OutgoingMessage:
    event = HopRecorded(
        event_id=hop_event_id(message.message_id, hop, platform, qualifier),
        message_id=message.message_id, correlation_id=message.correlation_id, kind=message.kind,
        hop=hop, platform=platform, service=CONSUMER, actor=actor, at=at, detail=detail or {},
    )
    return outgoing(event, exchange=names.platform_exchange(platform), routing_key=names.audit_key(hop), priority=priority)


def published_hop(platform: str, clock: Callable[[], datetime]) -> Callable[[OutgoingMessage], list[OutgoingMessage]]:
    """For the relay: once a message is confirmed by the broker, record that it was published."""

    def after_sent(sent: OutgoingMessage) -> list[OutgoingMessage]:
        if sent.type != MESSAGE:
            return []
        message_id = UUID(sent.message_id)
        kind = sent.routing_key.split(".")[2]
        event = HopRecorded(
            event_id=hop_event_id(message_id, Hop.PUBLISHED, platform), message_id=message_id,
            correlation_id=UUID(sent.correlation_id) if sent.correlation_id else None, kind=kind,
            hop=Hop.PUBLISHED, platform=platform, service="relay", at=clock(),
            detail={"exchange": sent.exchange, "routing_key": sent.routing_key},
        )
        return [outgoing(event, exchange=names.platform_exchange(platform), routing_key=names.audit_key(Hop.PUBLISHED),
                         priority=sent.priority)]

    return after_sent
