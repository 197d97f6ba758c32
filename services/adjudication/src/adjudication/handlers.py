"""Handlers: gather inputs from PostgreSQL, call the pure rules, apply the outputs.

:func:`apply_batch` runs inside the consumer's transaction (inbox rows included), so a batch's
facts, claims, history, deadlines and outbox events commit together or not at all.
:func:`fire_deadlines` does the same for the deadlines a scheduler finds due.

Time is never taken on a message's word (:mod:`servicekit.eventtime`): on the wall clock the
rules see the service's clock; on event time, a message's own time, bounded. A command whose
time is out of bounds is rejected with ``event_time_out_of_bounds``; a fact is refused to the
DLQ; neither moves the clock.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

import asyncpg
import structlog
from opentelemetry.trace import get_current_span

from adjudication import facts as fold
from adjudication import lifecycle, store
from adjudication.claim import reject
from adjudication.facts import OrderFacts
from adjudication.lifecycle import Claim, Transition
from adjudication.policy import Policy
from contracts import codec
from contracts.claims import ClaimCommand, ClaimEvent
from contracts.envelope import Envelope, Payload, wrap
from contracts.orders import OrderFact
from contracts.policy import PolicyVersion
from contracts.topics import CLAIMS_EVENTS
from servicekit.delivery import Delivered, RefusedMessage
from servicekit.eventtime import REASON_EVENT_TIME_OUT_OF_BOUNDS, ClockMode, Timekeeper
from servicekit.outbox import OutboxMessage, enqueue
from servicekit.polls import let_next_poll_in
from servicekit.tracing import OFF, Tracing

SOURCE: Final = "/atoz/adjudication"
AUTOMATIC_FILING: Final = "automatic_filing"
REASON_REFUND_CURRENCY: Final = "refund_currency_mismatch"
# Event ids derive from the input's id, so replaying the same inputs emits the same ids.
EVENT_NAMESPACE: Final = uuid.UUID("0b6f1f9e-8c1d-4f7a-9a53-5d9f2a4c7e21")

log = structlog.get_logger("adjudication")


@dataclass(frozen=True, slots=True)
class Cause:
    """What made a change: the input message (or deadline), its correlation id, and the time
    its sender stated (None for a deadline: the scheduler's own time)."""

    id: str
    correlation_id: str
    stated_at: datetime | None = None
    traceparent: str | None = None
    """The span deciding on it: what its events carry, so their consumers join the trace."""

    @classmethod
    def of(cls, envelope: Envelope[Any], traceparent: str | None = None) -> Cause:
        return cls(envelope.id, envelope.correlationid, envelope.time, traceparent)

    @classmethod
    def deadline(
        cls, kind: str, claim_id: str, due_at: datetime, traceparent: str | None = None
    ) -> Cause:
        """A stable id for a deadline, so that a replay emits the same event ids."""
        identity = f"deadline/{kind}/{claim_id}/{due_at.isoformat()}"
        return cls(str(uuid.uuid5(EVENT_NAMESPACE, identity)), claim_id, None, traceparent)


@dataclass
class Work:
    """What one transaction has loaded and changed (also what an in-memory replay keeps,
    :mod:`adjudication.replay`, sharing its dictionaries across messages)."""

    facts: dict[str, OrderFacts]
    claims_by_order: dict[str, list[Claim]]
    loaded: dict[str, OrderFacts] = field(default_factory=dict)
    """The facts as loaded, before this transaction changed them."""
    policy: PolicyVersion | None = None
    """The policy document the rules follow, recorded in every claim event."""
    changed_facts: dict[str, OrderFacts] = field(default_factory=dict)
    changed_claims: dict[str, Claim] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    history: list[store.HistoryEntry] = field(default_factory=list)
    touched_orders: set[str] = field(default_factory=set)
    emitted: list[Payload] = field(default_factory=list)
    """The payloads emitted, in order (what a replay reads; the outbox holds their bytes)."""

    def claim(self, order_id: str, claim_id: str) -> Claim | None:
        for claim in self.claims_by_order.get(order_id, []):
            if claim.state.claim_id == claim_id:
                return claim
        return None

    def open_claim(self, order_id: str, other_than: str) -> Claim | None:
        claims = self.claims_by_order.get(order_id, [])
        return lifecycle.open_claim(claims, other_than=other_than)

    def apply(self, transition: Transition, cause: Cause, now: datetime) -> None:
        if transition.claim is not None:
            claim = transition.claim
            siblings = self.claims_by_order.setdefault(claim.state.order_id, [])
            siblings[:] = [c for c in siblings if c.state.claim_id != claim.state.claim_id]
            siblings.append(claim)
            self.changed_claims[claim.state.claim_id] = claim
            self.touched_orders.add(claim.state.order_id)
        for index, event in enumerate(transition.events):
            self._emit(event, cause, now, index)

    def _emit(self, event: Payload, cause: Cause, now: datetime, index: int) -> None:
        if isinstance(event, ClaimEvent) and self.policy is not None:
            event = event.model_copy(update={"policy": self.policy})
        self.emitted.append(event)
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{cause.id}/{index}/{event.type}"))
        claim_id = getattr(event, "claim_id", "")
        envelope = wrap(
            event,
            source=SOURCE,
            subject=claim_id,
            time=now,
            correlation_id=cause.correlation_id,
            event_id=event_id,
            traceparent=cause.traceparent,
        )
        value = codec.encode(envelope)
        key = codec.message_key(CLAIMS_EVENTS, envelope)
        self.outbox.append(OutboxMessage.traced(CLAIMS_EVENTS.name, key, value, cause.traceparent))
        if isinstance(event, ClaimEvent) or claim_id:
            self.history.append(
                store.HistoryEntry(claim_id, event_id, event.type, now, cause.stated_at, value)
            )
        rules = list(getattr(event, "rules", ()))
        log.info(
            "claim.event",
            claim_id=claim_id,
            order_id=getattr(event, "order_id", None),
            type=event.type,
            rules=rules,
        )
        # On the deciding span (when traced): what was decided, and by which rules.
        get_current_span().add_event(
            event.type, {"atoz.claim_id": claim_id, "atoz.event_id": event_id, "atoz.rules": rules}
        )

    def automatic_filings(self, now: datetime, policy: Policy) -> list[store.PlannedDeadline]:
        """When the platform should next look at filing for each contact of the orders this
        transaction touched (:func:`adjudication.lifecycle.planned_filings`)."""
        planned = []
        for order_id in sorted(self.touched_orders):
            facts = self.facts.get(order_id)
            if facts is None:
                continue
            claims = self.claims_by_order.get(order_id, [])
            for claim_id, contact_id, due in lifecycle.planned_filings(
                facts, claims=claims, now=now, policy=policy
            ):
                planned.append(
                    store.PlannedDeadline(AUTOMATIC_FILING, claim_id, due, order_id, contact_id)
                )
        return planned


async def _load(
    conn: asyncpg.Connection, order_ids: Iterable[str], cache: store.FactsCache | None
) -> Work:
    ids = set(order_ids)
    facts = await store.load_facts(conn, ids, cache)
    return Work(
        facts=facts,
        claims_by_order=await store.load_claims_of_orders(conn, ids),
        loaded=dict(facts),
    )


async def _save(
    conn: asyncpg.Connection,
    work: Work,
    now: datetime,
    policy: Policy,
    cache: store.FactsCache | None,
) -> None:
    await store.save_facts(conn, list(work.changed_facts.values()), cache, loaded=work.loaded)
    await store.save_claims(conn, list(work.changed_claims.values()), now)
    await store.append_history(conn, work.history)
    await store.plan_order_deadlines(conn, work.automatic_filings(now, policy))
    await enqueue(conn, work.outbox)


def on_fact(work: Work, fact: OrderFact, cause: Cause, now: datetime, policy: Policy) -> None:
    """Fold ``fact`` into its order's facts and let each of the order's claims see it."""
    before = work.facts.get(fact.order_id)
    refusal = fold.foreign_refund(before, fact)
    if refusal is not None:
        raise RefusedMessage(REASON_REFUND_CURRENCY, refusal)
    after = fold.apply(before, fact)
    if after is before:  # apply hands back the same facts when the fact changes nothing
        return
    work.facts[fact.order_id] = after
    work.changed_facts[fact.order_id] = after
    work.touched_orders.add(fact.order_id)
    for claim in list(work.claims_by_order.get(fact.order_id, [])):
        if claim.held:
            transition = lifecycle.order_arrived(
                claim,
                after,
                open_claim=work.open_claim(fact.order_id, claim.state.claim_id),
                now=now,
                policy=policy,
            )
        else:
            transition = lifecycle.fact_seen(claim, fact, facts=after, now=now, policy=policy)
        work.apply(transition, cause, now)


def on_command(
    work: Work,
    command: ClaimCommand,
    cause: Cause,
    *,
    now: datetime,
    policy: Policy,
    refusal: str | None,
) -> None:
    """Apply a claim command (rejected as it is when its time was refused)."""
    with structlog.contextvars.bound_contextvars(
        claim_id=command.claim_id, order_id=command.order_id
    ):
        if refusal is not None:
            transition = reject(command, cause.id, REASON_EVENT_TIME_OUT_OF_BOUNDS, refusal)
        else:
            transition = lifecycle.handle_command(
                command,
                command_id=cause.id,
                claim=work.claim(command.order_id, command.claim_id),
                facts=work.facts.get(command.order_id),
                open_claim=work.open_claim(command.order_id, command.claim_id),
                now=now,
                policy=policy,
            )
        work.apply(transition, cause, now)


def in_time_order(deliveries: Sequence[Delivered], mode: ClockMode) -> list[Delivered]:
    """The batch's partitions merged in time order, each partition's own order kept.

    Topics give no order between them: a buyer's message to the seller (``orders.v1``) and the
    claim filed days later (``claims.commands.v1``) can come in one batch, the claim first, and
    the rules must see what happened first, first. On event time that is the messages' own
    (bounded) time; on the wall clock, when each reached Kafka, since a caller's stated time
    is not believed there, not even for the order of things.
    """
    streams: dict[tuple[str, int], list[Delivered]] = {}
    for delivered in deliveries:
        streams.setdefault((delivered.topic, delivered.partition), []).append(delivered)

    def when(delivered: Delivered) -> tuple[datetime, str, int, int]:
        at = delivered.envelope.time if mode == "event" else delivered.timestamp
        return (at, delivered.topic, delivered.partition, delivered.offset)

    return list(heapq.merge(*streams.values(), key=when))


async def apply_batch(
    conn: asyncpg.Connection,
    deliveries: Sequence[Delivered],
    *,
    policy: Policy,
    timekeeper: Timekeeper,
    tracing: Tracing = OFF,
    cache: store.FactsCache | None = None,
) -> None:
    """Apply a batch of order facts and claim commands in time order (:func:`in_time_order`),
    each in a span of its own (the decision), child of the consumer's; ``cache`` spares
    parsing the stored facts of orders seen lately."""
    if not deliveries:
        return
    deliveries = in_time_order(deliveries, timekeeper.mode)
    work = await _load(conn, (d.envelope.data.order_id for d in deliveries), cache)
    work.policy = policy.version
    newest = await store.newest_event_time(conn)
    latest: datetime | None = None
    accepted: dict[tuple[str, int], datetime] = {}
    for delivered in deliveries:
        stated = delivered.envelope.time
        data = delivered.envelope.data
        refusal = timekeeper.refusal(stated, newest)
        if refusal is not None and not isinstance(data, ClaimCommand):
            raise RefusedMessage(REASON_EVENT_TIME_OUT_OF_BOUNDS, refusal)
        now = timekeeper.now_for(stated)
        latest = max(latest or now, now)
        attributes = (
            {"atoz.order_id": data.order_id, "messaging.message.id": delivered.message_id}
            if tracing.enabled
            else None
        )
        with tracing.span(
            f"adjudicate {data.type}", parent=delivered.traceparent, attributes=attributes
        ) as traced:
            cause = Cause.of(delivered.envelope, traced.traceparent)
            if isinstance(data, ClaimCommand):
                on_command(work, data, cause, now=now, policy=policy, refusal=refusal)
            else:
                on_fact(work, data, cause, now, policy)
        if refusal is None:
            # Only a believed time moves the clock (and bounds the next message).
            newest = max(newest or stated, stated)
            key = (delivered.topic, delivered.partition)
            accepted[key] = max(accepted.get(key, stated), stated)
    assert latest is not None  # noqa: S101  # the batch is not empty
    let_next_poll_in()  # what is left is mostly PostgreSQL's: the next poll decodes meanwhile
    await _save(conn, work, latest, policy, cache)
    await store.advance_partition_clocks(conn, accepted)


def on_deadline(
    work: Work,
    deadline: store.Deadline,
    loaded: Claim | None,
    cause: Cause,
    *,
    now: datetime,
    policy: Policy,
) -> None:
    """Fire one due deadline: the platform's look at filing for a contact, or a claim's
    deadline (``loaded`` is the claim as stored; one whose deadline fired just before in the
    same pass is seen as that left it)."""
    if deadline.kind == AUTOMATIC_FILING:
        facts = work.facts.get(deadline.order_id or "")
        if facts is not None and deadline.contact_id is not None:
            transition = lifecycle.automatic_filing(
                facts,
                deadline.contact_id,
                claims=work.claims_by_order.get(facts.order_id, []),
                now=now,
                policy=policy,
            )
            work.apply(transition, cause, now)
            # Not admissible yet: the save plans the next look (or none, if never).
            work.touched_orders.add(facts.order_id)
        return
    if loaded is None:
        return
    current = work.claim(loaded.state.order_id, deadline.claim_id) or loaded
    kind = cast(lifecycle.DeadlineKind, deadline.kind)
    order_id = current.state.order_id
    transition = lifecycle.deadline_due(
        current,
        kind,
        now=now,
        policy=policy,
        facts=work.facts.get(order_id),
        open_claim=work.open_claim(order_id, current.state.claim_id),
    )
    work.apply(transition, cause, now)


async def fire_deadlines(
    pool: asyncpg.Pool,
    *,
    now: datetime,
    policy: Policy,
    limit: int = 200,
    tracing: Tracing = OFF,
    cache: store.FactsCache | None = None,
) -> int:
    """Fire the deadlines due by ``now`` in one transaction, in one span (a trace of its own:
    the platform acted, not a message); how many fired."""
    async with pool.acquire() as conn, conn.transaction():
        due = await store.due_deadlines(conn, now, limit)
        if not due:
            return 0
        with tracing.span("fire deadlines", attributes={"atoz.deadlines": len(due)}) as traced:
            await _fire(
                conn, due, now=now, policy=policy, traceparent=traced.traceparent, cache=cache
            )
        return len(due)


async def _fire(
    conn: asyncpg.Connection,
    due: Sequence[store.Deadline],
    *,
    now: datetime,
    policy: Policy,
    traceparent: str | None,
    cache: store.FactsCache | None,
) -> None:
    claims = await store.load_claims(conn, (d.claim_id for d in due))
    order_ids = {d.order_id for d in due if d.order_id is not None}
    order_ids |= {claim.state.order_id for claim in claims.values() if claim.held}
    work = await _load(conn, order_ids, cache) if order_ids else Work({}, {})
    work.policy = policy.version
    for loaded in claims.values():
        siblings = work.claims_by_order.setdefault(loaded.state.order_id, [])
        if all(c.state.claim_id != loaded.state.claim_id for c in siblings):
            siblings.append(loaded)
    for deadline in due:
        cause = Cause.deadline(deadline.kind, deadline.claim_id, deadline.due_at, traceparent)
        on_deadline(work, deadline, claims.get(deadline.claim_id), cause, now=now, policy=policy)
    await store.delete_deadlines(conn, [(d.kind, d.claim_id) for d in due])
    await _save(conn, work, now, policy, cache)
