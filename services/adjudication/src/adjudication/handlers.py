"""Handlers: gather inputs from PostgreSQL, call the pure rules, apply the outputs.

:func:`apply_batch` runs inside the consumer's transaction (inbox rows included), so a batch's
facts, claims, history, deadlines and outbox events commit together or not at all.
:func:`fire_deadlines` does the same for the deadlines a scheduler finds due.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

import asyncpg
import structlog

from adjudication import eligibility, lifecycle, store
from adjudication import facts as fold
from adjudication.facts import OrderFacts
from adjudication.lifecycle import Claim, Transition
from adjudication.policy import Policy
from contracts import codec
from contracts.claims import ClaimCommand, ClaimEvent
from contracts.envelope import Envelope, Payload, wrap
from contracts.orders import BuyerContactedSeller, OrderFact
from contracts.topics import CLAIMS_EVENTS
from servicekit.consumer import Delivered
from servicekit.outbox import OutboxMessage, enqueue

SOURCE: Final = "/atoz/adjudication"
AUTOMATIC_FILING: Final = "automatic_filing"
# Event ids derive from the input's id, so replaying the same inputs emits the same ids.
EVENT_NAMESPACE: Final = uuid.UUID("0b6f1f9e-8c1d-4f7a-9a53-5d9f2a4c7e21")

log = structlog.get_logger("adjudication")


@dataclass(frozen=True, slots=True)
class Cause:
    """What made a change: the input message (or deadline) and its correlation id."""

    id: str
    correlation_id: str

    @classmethod
    def of(cls, envelope: Envelope[Any]) -> Cause:
        return cls(envelope.id, envelope.correlationid)

    @classmethod
    def deadline(cls, kind: str, claim_id: str, due_at: datetime) -> Cause:
        """A stable id for a deadline, so that a replay emits the same event ids."""
        identity = f"deadline/{kind}/{claim_id}/{due_at.isoformat()}"
        return cls(str(uuid.uuid5(EVENT_NAMESPACE, identity)), claim_id)


@dataclass
class _Work:
    """What one transaction has loaded and changed."""

    facts: dict[str, OrderFacts]
    claims_by_order: dict[str, list[Claim]]
    changed_facts: dict[str, OrderFacts] = field(default_factory=dict)
    changed_claims: dict[str, Claim] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    order_deadlines: list[store.Deadline] = field(default_factory=list)
    history: list[tuple[str, str, str, datetime, str]] = field(default_factory=list)

    def claim(self, order_id: str, claim_id: str) -> Claim | None:
        for claim in self.claims_by_order.get(order_id, []):
            if claim.state.claim_id == claim_id:
                return claim
        return None

    def open_claim(self, order_id: str, other_than: str) -> Claim | None:
        for claim in self.claims_by_order.get(order_id, []):
            if claim.is_open and not claim.held and claim.state.claim_id != other_than:
                return claim
        return None

    def apply(self, transition: Transition, cause: Cause, now: datetime) -> None:
        if transition.claim is not None:
            claim = transition.claim
            siblings = self.claims_by_order.setdefault(claim.state.order_id, [])
            siblings[:] = [c for c in siblings if c.state.claim_id != claim.state.claim_id]
            siblings.append(claim)
            self.changed_claims[claim.state.claim_id] = claim
        for index, event in enumerate(transition.events):
            self._emit(event, cause, now, index)

    def _emit(self, event: Payload, cause: Cause, now: datetime, index: int) -> None:
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{cause.id}/{index}/{event.type}"))
        claim_id = getattr(event, "claim_id", "")
        envelope = wrap(
            event,
            source=SOURCE,
            subject=claim_id,
            time=now,
            correlation_id=cause.correlation_id,
            event_id=event_id,
        )
        value = codec.encode(envelope)
        self.outbox.append(
            OutboxMessage(CLAIMS_EVENTS.name, codec.message_key(CLAIMS_EVENTS, envelope), value)
        )
        if isinstance(event, ClaimEvent) or claim_id:
            self.history.append((claim_id, event_id, event.type, now, value.decode()))
        log.info(
            "claim.event",
            claim_id=claim_id,
            order_id=getattr(event, "order_id", None),
            type=event.type,
            rules=list(getattr(event, "rules", ())),
        )


async def _load(conn: asyncpg.Connection, order_ids: Iterable[str]) -> _Work:
    ids = set(order_ids)
    return _Work(
        facts=await store.load_facts(conn, ids),
        claims_by_order=await store.load_claims_of_orders(conn, ids),
    )


async def _save(conn: asyncpg.Connection, work: _Work, now: datetime) -> None:
    await store.save_facts(conn, list(work.changed_facts.values()))
    await store.save_claims(conn, list(work.changed_claims.values()), now)
    await store.append_history(conn, work.history)
    await store.schedule_order_deadlines(conn, work.order_deadlines)
    await enqueue(conn, work.outbox)


def _on_fact(work: _Work, fact: OrderFact, envelope: Envelope[Any], policy: Policy) -> None:
    now = envelope.time
    before = work.facts.get(fact.order_id)
    after = fold.apply(before, fact)
    if after == before:
        return
    work.facts[fact.order_id] = after
    work.changed_facts[fact.order_id] = after
    if isinstance(fact, BuyerContactedSeller) and policy.automatic_filing and after.known:
        # When the seller's window to answer ends, the platform may file for the buyer.
        work.order_deadlines.append(
            store.Deadline(
                AUTOMATIC_FILING,
                lifecycle.platform_claim_id(fact.order_id, fact.contact_id),
                eligibility.contact_window_end(fact.contacted_at, after, policy),
                fact.order_id,
                fact.contact_id,
            )
        )
    for claim in list(work.claims_by_order.get(fact.order_id, [])):
        if claim.held:
            # A held claim is judged as of when it was filed, with the facts known now: the
            # order's own facts carry their (earlier) event times.
            transition = lifecycle.order_arrived(
                claim,
                after,
                open_claim=work.open_claim(fact.order_id, claim.state.claim_id),
                now=max(now, claim.state.filed_at),
                policy=policy,
            )
        else:
            transition = lifecycle.fact_seen(claim, fact, now=now)
        work.apply(transition, Cause.of(envelope), now)


def _on_command(
    work: _Work, command: ClaimCommand, envelope: Envelope[Any], policy: Policy
) -> None:
    now = envelope.time
    with structlog.contextvars.bound_contextvars(
        claim_id=command.claim_id, order_id=command.order_id
    ):
        transition = lifecycle.handle_command(
            command,
            command_id=envelope.id,
            claim=work.claim(command.order_id, command.claim_id),
            facts=work.facts.get(command.order_id),
            open_claim=work.open_claim(command.order_id, command.claim_id),
            now=now,
            policy=policy,
        )
        work.apply(transition, Cause.of(envelope), now)


async def apply_batch(
    conn: asyncpg.Connection, deliveries: Sequence[Delivered], *, policy: Policy
) -> None:
    """Apply a batch of order facts and claim commands, in their partitions' order."""
    if not deliveries:
        return
    work = await _load(conn, (d.envelope.data.order_id for d in deliveries))
    latest = max(d.envelope.time for d in deliveries)
    for delivered in deliveries:
        data = delivered.envelope.data
        if isinstance(data, ClaimCommand):
            _on_command(work, data, delivered.envelope, policy)
        else:
            _on_fact(work, data, delivered.envelope, policy)
    await _save(conn, work, latest)
    newest: dict[tuple[str, int], datetime] = {}
    for delivered in deliveries:
        key = (delivered.topic, delivered.partition)
        newest[key] = max(newest.get(key, delivered.envelope.time), delivered.envelope.time)
    await store.advance_partition_clocks(conn, newest)


async def fire_deadlines(
    pool: asyncpg.Pool, *, now: datetime, policy: Policy, limit: int = 200
) -> int:
    """Fire the deadlines due by ``now`` in one transaction; how many fired."""
    async with pool.acquire() as conn, conn.transaction():
        due = await store.due_deadlines(conn, now, limit)
        if not due:
            return 0
        claims = await store.load_claims(conn, (d.claim_id for d in due))
        order_ids = [d.order_id for d in due if d.order_id is not None]
        work = await _load(conn, order_ids) if order_ids else _Work(facts={}, claims_by_order={})
        for loaded in claims.values():
            siblings = work.claims_by_order.setdefault(loaded.state.order_id, [])
            if all(c.state.claim_id != loaded.state.claim_id for c in siblings):
                siblings.append(loaded)
        for deadline in due:
            cause = Cause.deadline(deadline.kind, deadline.claim_id, deadline.due_at)
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
                continue
            found = claims.get(deadline.claim_id)
            if found is None:
                continue
            # A claim with two deadlines due at once sees the first one's outcome.
            current = work.claim(found.state.order_id, deadline.claim_id) or found
            kind = cast(lifecycle.DeadlineKind, deadline.kind)
            transition = lifecycle.deadline_due(current, kind, now=now, policy=policy)
            work.apply(transition, cause, now)
        await store.delete_deadlines(conn, [(d.kind, d.claim_id) for d in due])
        await _save(conn, work, now)
        return len(due)
