"""Each store's behaviour, written once, run against the in-memory fake and PostgreSQL."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from services.audit.adapters import AsyncpgAuditLog
from services.audit.fakes import InMemoryAuditLog
from services.enrichment.adapters import AsyncpgRegionalIndex
from services.enrichment.fakes import InMemoryRegionalIndex
from services.enrichment.ports import IndexedKey, MessageToIndex
from services.intake.adapters import AsyncpgIntakeStore
from services.intake.domain.acknowledgements import Received
from services.intake.domain.delivery import DeliveryState
from services.intake.handlers import send_queued_receipts
from services.intake.fakes import InMemoryIntakeStore
from services.routing.adapters import AsyncpgRoutingStore
from services.routing.domain.decisions import Original, RoutingDecision
from services.routing.fakes import InMemoryRoutingStore
from shared.contracts.events import EntityType, HopRecorded, MatchFound, MessageDispatched, NormalisedEntity
from shared.contracts.messages import SUBMIT_ADAPTER, stamp
from shared.db.uow import AsyncpgUnitOfWork
from shared.messaging.fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

FAKES = {"intake": InMemoryIntakeStore, "routing": InMemoryRoutingStore, "enrichment": InMemoryRegionalIndex,
         "audit": InMemoryAuditLog}
REAL = {"intake": AsyncpgIntakeStore, "routing": AsyncpgRoutingStore, "enrichment": AsyncpgRegionalIndex,
        "audit": AsyncpgAuditLog}


@pytest.fixture(params=["fake", "postgres"])
def store_for(request):
    if request.param == "fake":
        return lambda service: FAKES[service]()
    pool = request.getfixturevalue("pool")
    return lambda service: REAL[service](pool)  # a pool answers the same queries as a connection


@pytest.fixture(params=["fake", "postgres"])
def new_uow(request):
    if request.param == "fake":
        store = InMemoryIntakeStore()
        uow = FakeUnitOfWork(store)
        return lambda: uow
    pool = request.getfixturevalue("pool")
    return lambda: AsyncpgUnitOfWork(pool, AsyncpgIntakeStore)


def an_alert(origin: str = "NE"):
    command = SUBMIT_ADAPTER.validate_python({
        "kind": "alert", "submitted_by": "police", "evaluation": {"source": "A", "information": "1"},
        "body": {"alert_type": "wanted_person", "summary": "Wanted.", "entities": {"persons": [{"names": ["Moussa Ag Ahmed"]}]}},
    })
    return stamp(command, message_id=uuid4(), origin=origin, created_at=NOW)


async def test_claim_is_true_once_per_consumer_and_id(new_uow):
    message_id = uuid4()
    async with new_uow() as uow:
        assert await uow.claim("intake", message_id) is True
    async with new_uow() as uow:
        assert await uow.claim("intake", message_id) is False
        assert await uow.claim("routing", message_id) is True


async def test_a_failed_unit_of_work_forgets_its_claim(new_uow):
    message_id = uuid4()
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            assert await uow.claim("intake", message_id)
            raise RuntimeError("effect failed")
    async with new_uow() as uow:
        assert await uow.claim("intake", message_id) is True


async def test_intake_store_advances_delivery_state_only_forward(store_for):
    store = store_for("intake")
    sent = an_alert()
    await store.record_sent(sent)
    await store.record_routing_rules([(sent.message_id, "alert-to-all-active-members")])
    await store.advance_delivery(sent.message_id, "ML", DeliveryState.ROUTED)
    await store.advance_delivery(sent.message_id, "HUB", DeliveryState.ROUTED)
    await store.advance_delivery(sent.message_id, "BF", DeliveryState.NOT_ROUTED, "member is withdrawn")
    await store.advance_delivery(sent.message_id, "ML", DeliveryState.READ)
    await store.advance_delivery(sent.message_id, "ML", DeliveryState.RECEIVED)
    states = await _deliveries(store, sent.message_id)
    assert states == {"ML": ("read", None), "HUB": ("routed", None), "BF": ("not_routed", "member is withdrawn")}


async def test_intake_store_advances_several_messages_and_recipients_at_once_each_only_forward(store_for):
    store = store_for("intake")
    sent, other = an_alert(), an_alert()
    await store.record_sent(sent)
    await store.record_sent(other)
    await store.advance_delivery(sent.message_id, "ML", DeliveryState.READ)

    await store.advance_deliveries([
        (sent.message_id, "ML", DeliveryState.ROUTED, None), (sent.message_id, "HUB", DeliveryState.ROUTED, None),
        (sent.message_id, "TD", DeliveryState.HELD, "held"),
        (sent.message_id, "HUB", DeliveryState.NOT_ROUTED, "twice in one call: the stronger state counts"),
        (other.message_id, "ML", DeliveryState.ROUTED, None), (uuid4(), "ML", DeliveryState.ROUTED, None)])
    await store.advance_deliveries([])

    assert await _deliveries(store, sent.message_id) == {
        "ML": ("read", None), "HUB": ("routed", None), "TD": ("held", "held")}
    assert await _deliveries(store, other.message_id) == {"ML": ("routed", None)}


async def test_recording_routing_rules_hands_back_the_sent_requests_for_information_and_no_other_kind(store_for):
    store = store_for("intake")
    alert, rfi = an_alert(), stamp(SUBMIT_ADAPTER.validate_python(
        {"kind": "rfi", "submitted_by": "police", "recipients": ["ML"], "body": {"question": "Known?"}}),
        message_id=uuid4(), origin="NE", created_at=NOW)
    await store.record_sent(alert)
    await store.record_sent(rfi)

    assert await store.record_routing_rules([
        (rfi.message_id, "rfi-to-named-recipients"), (alert.message_id, "alert-to-all-active-members"),
        (uuid4(), "alert-to-all-active-members")]) == [rfi]
    assert await store.record_routing_rules([(alert.message_id, "alert-to-all-active-members")]) == []
    assert await store.record_routing_rules([]) == []
    assert await _routing_rules(store, [rfi.message_id, alert.message_id]) == {
        rfi.message_id: "rfi-to-named-recipients", alert.message_id: "alert-to-all-active-members"}


async def test_intake_store_records_many_at_once_skipping_taken_keys_and_ids(store_for):
    store = store_for("intake")
    taken, first, second = an_alert(), an_alert(), an_alert()
    key = f"file-{uuid4()}"
    await store.record_sent(taken, idempotency_key=f"{key}:1")

    recorded = await store.record_sent_many([(first, f"{key}:1"), (second, f"{key}:2"), (taken, f"{key}:3")])

    assert recorded == {second.message_id}
    assert await store.sent_ids_with_keys([f"{key}:1", f"{key}:2", f"{key}:9"]) == {
        f"{key}:1": taken.message_id, f"{key}:2": second.message_id}
    assert await store.record_sent_many([]) == set()


async def test_intake_store_records_many_submissions_without_a_key_each_once(store_for):
    store = store_for("intake")
    first, second, keyed = an_alert(), an_alert(), an_alert()
    key = f"api-{uuid4()}"

    recorded = await store.record_sent_many([(first, None), (second, None), (keyed, key), (first, None)])

    assert recorded == {first.message_id, second.message_id, keyed.message_id}
    assert await store.sent_with_keys([key]) == {key: keyed}


async def test_intake_store_ignores_acknowledgements_of_messages_it_never_sent(store_for):
    store = store_for("intake")
    unknown = uuid4()
    await store.advance_delivery(unknown, "ML", DeliveryState.READ)
    assert await _deliveries(store, unknown) == {}


async def test_intake_store_keeps_inbox_items_once_and_returns_them(store_for):
    store = store_for("intake")
    message = an_alert(origin="MR")
    dispatched = MessageDispatched(message=message, recipient="NE", rule="alert-to-all-active-members", dispatched_at=NOW)
    other = MessageDispatched(message=an_alert(origin="TD"), recipient="NE", rule="alert-to-all-active-members",
                              dispatched_at=NOW)
    await store.save_inbox_items([])
    await store.save_inbox_items([dispatched])
    await store.save_inbox_items([dispatched, other])
    assert await store.inbox_message(message.message_id) == message
    assert await store.inbox_message(other.message.message_id) == other.message
    assert await store.inbox_message(uuid4()) is None


def a_match_found(notification_id, message_id, hits=1):
    hit = {"entity_type": "person", "position": 0, "key": "name:moussa ag ahmed", "matched_message_id": str(uuid4()),
           "matched_platform": "ML", "score": 0.97, "outcome": "hit"}
    return MatchFound(notification_id=notification_id, message_id=message_id, origin="NE", kind="alert",
                      handling_code="H0", recipient="ML", hits=[hit] * hits, references_only=False,
                      notified_at=NOW)


async def test_intake_store_keeps_each_match_notification_once_whatever_the_number_of_calls(store_for):
    store = store_for("intake")
    message_id = uuid4()
    first, second = a_match_found(uuid4(), message_id), a_match_found(uuid4(), message_id, hits=2)
    await store.save_matches([])
    await store.save_matches([first])
    await store.save_matches([first, second, a_match_found(second.notification_id, message_id, hits=3)])
    assert await _matches(store, message_id) == {first.notification_id: 1, second.notification_id: 2}


async def test_intake_store_queues_a_receipt_once_and_a_take_removes_the_longest_queued_of_its_lane(store_for):
    store = store_for("intake")
    first, bulk, second = (Received.of(an_alert(origin)) for origin in ("MR", "NE", "TD"))
    await store.queue_receipts([], lane="routine")
    await store.queue_receipts([first], lane="routine")
    await store.queue_receipts([bulk], lane="bulk")
    await store.queue_receipts([second, first], lane="routine")

    assert await store.take_queued_receipts("routine", limit=1) == [first]
    assert await store.take_queued_receipts("routine", limit=10) == [second]
    assert await store.take_queued_receipts("routine", limit=10) == []
    assert await store.take_queued_receipts("bulk", limit=10) == [bulk]


async def test_a_round_of_receipts_that_fails_sends_nothing_and_leaves_its_receipts_queued(pool):
    class FailingToRecord(AsyncpgIntakeStore):
        async def record_sent(self, message, *, idempotency_key=None):  # noqa: ANN001, ANN202
            raise ConnectionResetError("the database went away")

    queued = Received.of(an_alert("MR"))
    await AsyncpgIntakeStore(pool).queue_receipts([queued], lane="routine")
    with pytest.raises(ConnectionResetError):
        await send_queued_receipts(uow=AsyncpgUnitOfWork(pool, FailingToRecord), lane="routine", platform="NE",
                                   clock=lambda: NOW, new_id=uuid4, limit=10)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

    uow = AsyncpgUnitOfWork(pool, AsyncpgIntakeStore)
    assert await send_queued_receipts(uow=uow, lane="routine", platform="NE", clock=lambda: NOW, new_id=uuid4,
                                      limit=10) == 1
    assert await pool.fetchval("SELECT count(*) FROM pending_receipts") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE type = 'pcms.message'") == 1


async def test_routing_store_remembers_the_origin_and_recipients_of_routed_messages(store_for):
    store = store_for("routing")
    message = an_alert(origin="TD")
    other, unanimous = an_alert(origin="NE"), an_alert(origin="ML")
    await store.record([(message, RoutingDecision("alert-to-all-active-members", ["ML", "HUB"], held=["BF"])),
                        (other, RoutingDecision("alert-to-all-active-members", [])),
                        (message, RoutingDecision("a later decision of the same message", ["TD"]))])
    await store.record([(unanimous, RoutingDecision("alert-to-all-active-members", ["NE", "TD", "HUB"]))])
    await store.record([(message, RoutingDecision("recorded again", ["MR"]))])
    await store.record([])

    assert await store.original(message.message_id) == Original(message.message_id, "TD", ("ML", "HUB", "BF"))
    assert await store.original(other.message_id) == Original(other.message_id, "NE", ())
    assert await store.original(unanimous.message_id) == Original(unanimous.message_id, "ML", ("NE", "TD", "HUB"))
    assert await store.original(uuid4()) is None


def phone_key() -> str:
    """A phone number's index key no other test uses."""
    return f"phone:+2279{uuid4().int % 10**7:07d}"


def phone(number_key: str, position: int = 0) -> NormalisedEntity:
    return NormalisedEntity(entity_type=EntityType.PHONE, position=position, keys=[number_key],
                            canonical={"e164": number_key[6:]})


async def test_regional_index_finds_what_other_messages_indexed_before_under_the_keys(store_for):
    store = store_for("enrichment")
    first, second, third = uuid4(), uuid4(), uuid4()
    key, other_key = phone_key(), phone_key()

    async def index(message_id: UUID, platform: str, number_key: str) -> list[IndexedKey]:
        [found] = await store.index_many([MessageToIndex(message_id, platform, "H0", [phone(number_key)], [number_key])])
        return found

    assert await index(first, "TD", key) == []
    found = await index(second, "ML", key)
    assert [(row.platform, row.message_id, row.key) for row in found] == [("TD", first, key)]
    again = await index(first, "TD", key)
    assert [(row.platform, row.message_id) for row in again] == [("ML", second)], "never its own entries"
    assert await index(third, "NE", other_key) == []


async def test_regional_index_answers_each_message_of_a_call_with_what_was_indexed_before_it_the_call_included(
    store_for,
):
    store = store_for("enrichment")
    stored, first, second, third = uuid4(), uuid4(), uuid4(), uuid4()
    key, other_key = phone_key(), phone_key()

    await store.index_many([MessageToIndex(stored, "TD", "H0", [phone(key)])])
    found = await store.index_many([
        MessageToIndex(first, "NE", "H0", [phone(key), phone(other_key, 1)], [key, other_key]),
        MessageToIndex(second, "ML", "H0", [], [other_key]),
        MessageToIndex(third, "MR", "H0", [phone(key)], [key, other_key]),
    ])

    assert [[(row.platform, row.message_id, row.key) for row in rows] for rows in found] == [
        [("TD", stored, key)],
        [("NE", first, other_key)],
        [("NE", first, other_key), ("NE", first, key), ("TD", stored, key)],
    ]
    [again] = await store.index_many([MessageToIndex(uuid4(), "BF", "H0", [], [key])])
    *of_the_call, before = [(row.platform, row.message_id) for row in again]  # one call's rows: indexed at one time
    assert (sorted(of_the_call), before) == ([("MR", third), ("NE", first)], ("TD", stored))


async def test_regional_index_answers_a_message_alone_as_it_answers_it_among_others(store_for):
    store = store_for("enrichment")
    key = phone_key()
    for platform in ("TD", "ML"):
        await store.index_many([MessageToIndex(uuid4(), platform, "H0", [phone(key)])])

    first = MessageToIndex(uuid4(), "NE", "H0", [phone(key)], [key])
    [alone] = await store.index_many([first])
    among_others, _ = await store.index_many([MessageToIndex(uuid4(), "NE", "H0", [phone(key)], [key]),
                                              MessageToIndex(uuid4(), "MR", "H0", [], [key])])
    assert sorted((row.platform, row.key) for row in alone) == [("ML", key), ("TD", key)]
    assert {(row.platform, row.message_id, row.key) for row in among_others} == {
        (row.platform, row.message_id, row.key) for row in alone} | {("NE", first.message_id, key)}


async def test_audit_log_appends_an_event_once(store_for):
    log = store_for("audit")
    event = HopRecorded(event_id=uuid4(), message_id=uuid4(), hop="accepted", platform="NE", service="intake", at=NOW)
    assert await log.append(event) is True
    assert await log.append(event) is False


async def _deliveries(store, message_id):
    if isinstance(store, InMemoryIntakeStore):
        return {r: (s.value, reason) for (m, r), (s, reason) in store.deliveries.items() if m == message_id}
    rows = await store._connection.fetch(
        "SELECT recipient, state, reason FROM deliveries WHERE message_id = $1", message_id
    )
    return {row["recipient"]: (row["state"], row["reason"]) for row in rows}


async def _matches(store, message_id):
    if isinstance(store, InMemoryIntakeStore):
        return {n.notification_id: len(n.hits) for n in store.matches.values() if n.message_id == message_id}
    rows = await store._connection.fetch(
        "SELECT notification_id, jsonb_array_length(hits) AS hits FROM match_notifications WHERE message_id = $1",
        message_id)
    return {row["notification_id"]: row["hits"] for row in rows}


async def _routing_rules(store, message_ids):
    if isinstance(store, InMemoryIntakeStore):
        return {m: rule for m, rule in store.routing_rules.items() if m in message_ids}
    rows = await store._connection.fetch(
        "SELECT message_id, routing_rule FROM sent_messages WHERE message_id = ANY($1::uuid[])", message_ids)
    return {row["message_id"]: row["routing_rule"] for row in rows}


async def test_intake_store_refuses_a_second_message_with_the_same_idempotency_key(store_for):
    store = store_for("intake")
    key = f"key-{uuid4()}"
    first, second = an_alert(), an_alert()
    assert await store.record_sent(first, idempotency_key=key) is True
    assert await store.record_sent(second, idempotency_key=key) is False
    assert await store.sent_with_keys([key, f"other-{uuid4()}"]) == {key: first}
