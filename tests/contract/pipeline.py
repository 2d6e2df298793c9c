"""A whole federation in memory: the real handlers, the real topology, the in-memory fakes.

Messages the handlers publish (through their unit of work's outbox, as the relay would) are routed
by the bindings of shared/messaging/topology.py to queues, and every queue is consumed as the
services' bootstraps consume it: parsed by the wire registry (the consumer's parser), then handed to
the handler. The contract tests use what travelled - every (producer, exchange, routing key, queue,
body) - to verify the consumers' expectations against real messages, not hand-written ones.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from shared.contracts import registry
from shared.policy import load_policy
from shared.contracts.catalogue import CONSUMERS, Consumer
from shared.federation import Federation
from shared.messaging.errors import MessageRejected
from shared.messaging.fakes import FakeUnitOfWork
from shared.messaging.batches import publications
from shared.messaging.outgoing import OutgoingMessage
from shared.messaging.topology import Topology, federation_topology

START = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Travelled:
    producer: str  # service that published it
    platform: str  # where that service runs
    message: OutgoingMessage
    queues: tuple[str, ...]  # where the topology delivered it


@dataclass
class Delivery:
    queue: str
    consumer: Consumer
    platform: str
    travelled: Travelled


def _topic_match(pattern: str, key: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\#", "__HASH__").replace(r"\*", "[^.]+") + "$"
    regex = regex.replace(r"\.__HASH__", r"(\..*)?").replace(r"__HASH__\.", r"(.*\.)?").replace("__HASH__", ".*")
    return re.match(regex, key) is not None


def route(topology: Topology, exchange: str, routing_key: str) -> list[str]:
    """The queues a message published to ``exchange`` with ``routing_key`` lands in (exchange-to-exchange too)."""
    kinds = {spec.name: spec.type for spec in topology.exchanges}
    queues: list[str] = []
    todo, seen = [exchange], set()
    while todo:
        source = todo.pop()
        if source in seen:
            continue
        seen.add(source)
        kind = kinds.get(source)
        for binding in topology.bindings:
            if binding.source != source:
                continue
            if kind == "fanout" or (kind == "direct" and binding.routing_key == routing_key) or (
                kind == "topic" and _topic_match(binding.routing_key, routing_key)
            ):
                (todo if binding.destination_is_exchange else queues).append(binding.destination)
    return sorted(set(queues))


def _call(handler: Callable[..., Any], model: BaseModel, available: dict[str, Any]) -> Any:
    """Calls a handler with the dependencies its signature names (as the bootstrap binds them)."""
    parameters = inspect.signature(handler).parameters
    missing = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty
               and name not in available]
    if missing:
        raise TypeError(f"{handler.__qualname__} needs {missing}: teach tests/contract/pipeline.py to provide them")
    return handler(model, **{name: value for name, value in available.items() if name in parameters})


@dataclass
class InMemoryFederation:
    federation: Federation
    topology: Topology = field(init=False)
    travelled: list[Travelled] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    _pending: list[Delivery] = field(default_factory=list)
    _ids: int = 0x1000
    _ticks: int = 0
    _committed: dict[tuple[str, str], list[OutgoingMessage]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from services.audit.fakes import InMemoryAuditLog
        from services.enrichment.fakes import InMemoryRegionalIndex
        from services.intake.fakes import InMemoryIntakeStore
        from services.routing.fakes import InMemoryRoutingStore

        self.topology = federation_topology(self.federation)
        self.intake_stores = {p.code: InMemoryIntakeStore() for p in self.federation.active_platforms}
        self.audit_logs = {p.code: InMemoryAuditLog() for p in self.federation.active_platforms}
        self.regional_index = InMemoryRegionalIndex()
        self.routing_store = InMemoryRoutingStore()
        try:
            from services.enrichment.domain.regional import RegionalMatcher
        except ImportError:  # before the in-memory matcher existed
            self.matcher = None
        else:
            self.matcher = RegionalMatcher()
            if hasattr(self.matcher, "finish_loading"):
                self.matcher.finish_loading()
        self._queue_owner: dict[str, tuple[Consumer, str]] = {}
        for consumer in CONSUMERS:
            for queue in consumer.queues(self.federation):
                self._queue_owner[queue] = (consumer, consumer.runs_on(queue, self.federation))

    # clocks and ids: deterministic
    def clock(self) -> datetime:
        self._ticks += 1
        return START + timedelta(seconds=self._ticks)

    def new_id(self) -> UUID:
        self._ids += 1
        return UUID(int=self._ids)

    def lane_of(self, queue: str) -> dict[str, Any]:
        from shared.messaging import names

        for lane in getattr(names, "LANES", ()):
            if queue.endswith(f".{lane}"):
                return {"lane": lane}
        return {}

    # publishing
    def publish(self, producer: str, platform: str, messages: list[OutgoingMessage]) -> None:
        from services.intake.handlers import published_hop

        for publication in publications(list(enumerate(messages))):  # as the relay sends them: hops joined
            message = publication.message
            queues = route(self.topology, message.exchange, message.routing_key)
            travelled = Travelled(producer, platform, message, tuple(queues))
            self.travelled.append(travelled)
            for queue in queues:
                if queue in self._queue_owner:
                    consumer, runs_on = self._queue_owner[queue]
                    self._pending.append(Delivery(queue, consumer, runs_on, travelled))
            if producer == "intake":  # the outbox relay records that it published the message
                follow_ups = [hop for _, sent in publication.rows for hop in published_hop(platform, self.clock)(sent)]
                if follow_ups:
                    self.publish("intake", platform, follow_ups)

    async def run(self, limit: int = 10_000) -> None:
        """Consumes every queue until nothing is left, a round at a time: what the deliveries of a round (and
        the officers before it) commit leaves together, as one relay round of each service publishes it."""
        for _ in range(limit):
            self._flush()
            if not self._pending:
                return
            round_, self._pending = self._pending, []
            for delivery in round_:
                self.deliveries.append(delivery)
                await self._consume(delivery)
        raise RuntimeError("the federation did not settle")

    def _flush(self) -> None:
        committed, self._committed = self._committed, {}
        for (producer, platform), messages in committed.items():
            self.publish(producer, platform, messages)

    def _commit(self, producer: str, platform: str, messages: list[OutgoingMessage]) -> None:
        self._committed.setdefault((producer, platform), []).extend(messages)

    async def _consume(self, delivery: Delivery) -> None:
        sent = delivery.travelled.message
        if sent.type == registry.BATCH_RELAYED:  # as the runtime does: each item as if it had come alone
            batch = registry.parse(sent.type, sent.body, sent.headers)
            for item in batch.items:
                await self._handle(delivery, item.body.encode(), batch.item_type, sent.headers)
        else:
            await self._handle(delivery, sent.body, sent.type, sent.headers)

    async def _handle(self, delivery: Delivery, body: bytes, wire_type: str, headers: dict[str, Any]) -> None:
        model = registry.parse(wire_type, body, headers)
        service, platform = delivery.consumer.service, delivery.platform
        uow: FakeUnitOfWork[Any] | None = None
        available: dict[str, Any] = {"federation": self.federation, "clock": self.clock, "new_id": self.new_id,
                                     "policy": load_policy(),
                                     "platform": platform, **self.lane_of(delivery.queue)}
        try:
            if service == "enrichment":
                from services.enrichment.handlers import when_message_published_enrich_it

                uow = FakeUnitOfWork(self.regional_index)
                available |= {"uow": uow, "matcher": self.matcher, "ingress_platform": delivery.queue.split(".")[2]}
                await _call(when_message_published_enrich_it, model, available)
            elif service == "routing":
                from services.routing.handlers import when_message_enriched_route_it

                uow = FakeUnitOfWork(self.routing_store)
                await _call(when_message_enriched_route_it, model, available | {"uow": uow})
            elif service == "intake":
                from services.intake import handlers

                uow = FakeUnitOfWork(self.intake_stores[platform])
                handler = {registry.MESSAGE_DISPATCHED: handlers.when_message_dispatched_take_it_in,
                           registry.ROUTING_DECIDED: handlers.when_routing_decided_record_it,
                           registry.MATCH_FOUND: handlers.when_match_found_record_it}[wire_type]
                await _call(handler, model, available | {"uow": uow})
            elif service == "audit" and wire_type == registry.HOP_RECORDED:
                await self.audit_logs[platform].append(model)  # type: ignore[arg-type]
            elif service == "audit" and wire_type == registry.HOPS_RECORDED:
                from services.audit.handlers import when_hops_recorded_append_each

                await when_hops_recorded_append_each(model, log_=self.audit_logs[platform])  # type: ignore[arg-type]
            # checkpoints are witnessed against PostgreSQL: parsed here, witnessed in the integration tests
        except MessageRejected as rejection:
            self.rejected.append((delivery.queue, str(rejection)))
            return
        if uow is not None:
            self._commit(service, platform, list(uow.published))

    # what officers do
    async def submit(self, platform: str, command: Any, *, actor: str | None = None) -> Any:
        from services.intake.handlers import submit_message

        uow = FakeUnitOfWork(self.intake_stores[platform])
        message = await submit_message(command, uow=uow, platform=platform, clock=self.clock, new_id=self.new_id,
                                       actor=actor)
        self._commit("intake", platform, list(uow.published))
        return message

    async def acknowledge(self, platform: str, message_id: UUID, state: str, reason: str | None = None) -> Any:
        from shared.contracts.bodies import AcknowledgementState
        from shared.contracts.common import NationalService
        from services.intake.handlers import acknowledge_message

        uow = FakeUnitOfWork(self.intake_stores[platform])
        ack = await acknowledge_message(message_id, AcknowledgementState(state), reason=reason,
                                        submitted_by=NationalService.POLICE, uow=uow, platform=platform,
                                        clock=self.clock, new_id=self.new_id, actor="officer-1")
        self._commit("intake", platform, list(uow.published))
        return ack

    def publish_checkpoint(self) -> None:
        """The hub's audit signs a checkpoint over its log and sends it to the witnesses, as its appender does."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from services.audit.appender import AuditAppender
        from services.audit.domain.checkpoint import sign_checkpoint
        from services.audit.domain.merkle import leaf_hash
        from services.audit.keys import log_id_for, signer_from_key

        hub = self.federation.hub.code
        signer = signer_from_key(log_id_for(hub), Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
        appender = AuditAppender(None, signer, platform=hub)  # type: ignore[arg-type]  # no database: not started
        appender.tree.extend(leaf_hash(entry.model_dump_json().encode()) for entry in self.audit_logs[hub].entries)
        checkpoint = sign_checkpoint(signer.log_id, appender.tree.size, appender.tree.root(), self.clock(),
                                     signer.private_key, signer.key_id)
        self._commit("audit", hub, [appender.checkpoint_message(checkpoint, 0)])

    # what travelled
    def bodies(self, wire_type: str) -> list[Travelled]:
        return [t for t in self.travelled if t.message.type == wire_type]


def origin_of(body: dict[str, Any]) -> str | None:
    """The origin a message body names; for a batch, its first item's."""
    if "items" in body and "item_type" in body:
        return json.loads(body["items"][0]["body"]).get("origin")
    return body.get("origin")


def submission(kind: str, **fields: Any) -> Any:
    from shared.contracts.messages import SUBMIT_ADAPTER

    return SUBMIT_ADAPTER.validate_python({"kind": kind, "submitted_by": "police"} | fields)


PASSPORT = {"type": "passport", "number": "B0987654", "issuing_country": "MR"}
PERSON = {"names": ["Mohamed Ould Ahmed", "محمد ولد أحمد"], "birth_date": "1985", "nationality": "MR",
          "documents": [PASSPORT]}
EVALUATION = {"source": "B", "information": "2"}


async def run_scenario(federation: Federation) -> InMemoryFederation:
    """Every kind of message through every hop: alert, report (with a cross-match hit), rfi to named
    recipients and its answer, two reports of one relay round (joined), acknowledgements read and refused,
    and a signed audit checkpoint."""
    fed = InMemoryFederation(federation)
    members = [p.code for p in federation.active_members]
    origin, second, third = members[-2], members[-1], members[0]
    alert = await fed.submit(origin, submission(
        "alert", priority="urgent", evaluation=EVALUATION,
        body={"alert_type": "wanted_person", "summary": "Recherché pour attaque armée",
              "entities": {"persons": [PERSON], "phones": [{"number": "+227 90 12 34 56"}],
                           "vehicles": [{"plate": "AB-1234-NE", "plate_country": "NE"}]}}), actor="officer-7")
    await fed.run()
    await fed.submit(second, submission(
        "report", evaluation=EVALUATION,
        body={"crime_category": "arms_trafficking", "summary": "Seizure of weapons; passport found.",
              "place": {"name": "Gao", "country": "ML"},
              "entities": {"persons": [{"names": ["Mohamed Ould Ahmed"], "documents": [PASSPORT]}],
                           "documents": [PASSPORT]}}))
    await fed.run()
    rfi = await fed.submit(third, submission(
        "rfi", recipients=[origin, second], handling_code="H3", handling_note="Not for judicial use.",
        body={"question": "Do you hold records on this phone?", "entities": {"phones": [{"number": "+22790123456"}]}}))
    await fed.run()
    await fed.submit(origin, submission("rfi_response", in_reply_to=str(rfi.message_id),
                                        body={"answer": "Known to our services."}))
    await fed.submit(third, submission("report", recipients=["HUB"], evaluation=EVALUATION,
                                       body={"crime_category": "smuggling", "summary": "Fuel smuggling."}))
    await fed.run()
    for summary in ("Two trucks of fuel seized.", "A third truck seized."):  # one relay round: joined at every hop
        await fed.submit(second, submission("report", evaluation=EVALUATION,
                                            body={"crime_category": "smuggling", "summary": summary}))
    await fed.run()
    await fed.acknowledge(third, alert.message_id, "read")
    await fed.acknowledge(second, alert.message_id, "refused", reason="Outside our jurisdiction.")
    await fed.run()
    fed.publish_checkpoint()
    await fed.run()
    return fed
