"""Adjudication over a recorded history, in memory: the service's rules and its handler's
bookkeeping (facts, claims, deadlines) with no PostgreSQL and no Kafka.

:class:`Replay` takes the inputs of ``orders.v1`` and ``claims.commands.v1`` in event-time
order, as the service does on event time: before a message at time ``t`` is applied, every
deadline due by ``t`` fires (each at its own due time, in due order); :meth:`Replay.finish`
fires what is due by the end. The handlers' own functions apply each input
(:func:`adjudication.handlers.on_fact`, :func:`~adjudication.handlers.on_command`,
:func:`~adjudication.handlers.on_deadline`), so a replay decides as the service decides; only
the clock differs: a deadline fires at its due time exactly, where the service fires it at the
first scheduler pass after (which moves a decision's date by at most that pass's delay).

``atoz-whatif`` runs two of them, under two policies, over the same inputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adjudication import handlers, lifecycle
from adjudication.facts import OrderFacts
from adjudication.handlers import Cause, Work
from adjudication.lifecycle import Claim
from adjudication.policy import Policy
from adjudication.store import Deadline
from contracts.claims import ClaimCommand, ClaimEvent
from contracts.envelope import Envelope
from contracts.orders import OrderFact

DeadlineKey = tuple[str, str]
"""(kind, claim id): one deadline of each kind per claim, as the service's table keys it."""


@dataclass
class Replay:
    """One policy's adjudication of a history, fed message by message (see the module)."""

    policy: Policy
    facts: dict[str, OrderFacts] = field(default_factory=dict)
    claims_by_order: dict[str, list[Claim]] = field(default_factory=dict)
    last_decision: dict[str, ClaimEvent] = field(default_factory=dict)
    """Each claim's latest event that carried rules: what decided it, and by which rules."""
    _deadlines: dict[DeadlineKey, Deadline] = field(default_factory=dict)
    _kinds: dict[str, set[str]] = field(default_factory=dict)  # claim id -> kinds planned
    _order_of: dict[str, str] = field(default_factory=dict)  # claim id -> order id
    _due: list[tuple[datetime, str, str]] = field(default_factory=list)
    clock: datetime | None = None

    def feed(self, envelope: Envelope[Any]) -> None:
        """Apply one input (an order fact or a claim command) at its own time."""
        now = envelope.time
        self.fire_until(now)
        data = envelope.data
        work = self._work()
        cause = Cause.of(envelope)
        if isinstance(data, ClaimCommand):
            handlers.on_command(work, data, cause, now=now, policy=self.policy, refusal=None)
        elif isinstance(data, OrderFact):
            handlers.on_fact(work, data, cause, now, self.policy)
        self._settle(work, now)
        self.clock = max(self.clock or now, now)

    def fire_until(self, moment: datetime) -> None:
        """Fire every deadline due by ``moment``, each at its due time, earliest first."""
        while self._due and self._due[0][0] <= moment:
            due_at, kind, claim_id = heapq.heappop(self._due)
            deadline = self._deadlines.get((kind, claim_id))
            if deadline is None or deadline.due_at != due_at:
                continue  # replanned or dropped since it was queued
            self._drop((kind, claim_id))
            work = self._work()
            loaded = self._claim(deadline.claim_id)
            cause = Cause.deadline(kind, claim_id, due_at)
            handlers.on_deadline(work, deadline, loaded, cause, now=due_at, policy=self.policy)
            self._settle(work, due_at)

    def finish(self, end: datetime | None = None) -> None:
        """Fire what is due by ``end`` (the last input's time when None)."""
        moment = end or self.clock
        if moment is not None:
            self.fire_until(moment)

    def claims(self) -> Iterable[Claim]:
        """Every claim as it stands now."""
        for claims in self.claims_by_order.values():
            yield from claims

    def _work(self) -> Work:
        # The replay's dictionaries themselves: what a message changes stays changed.
        return Work(self.facts, self.claims_by_order, policy=self.policy.version)

    def _claim(self, claim_id: str) -> Claim | None:
        order_id = self._order_of.get(claim_id)
        for claim in self.claims_by_order.get(order_id or "", []):
            if claim.state.claim_id == claim_id:
                return claim
        return None

    def _settle(self, work: Work, now: datetime) -> None:
        """What the handler's save does to deadlines: a changed claim's are replaced by the
        ones its state needs; the touched orders' automatic filings are planned again."""
        for event in work.emitted:
            if isinstance(event, ClaimEvent) and event.rules:
                self.last_decision[event.claim_id] = event
        for claim in work.changed_claims.values():
            claim_id = claim.state.claim_id
            self._order_of[claim_id] = claim.state.order_id
            for kind in list(self._kinds.get(claim_id, ())):  # all of the claim's, as the
                self._drop((kind, claim_id))  # service's save deletes them by claim id
            for kind, due_at in lifecycle.pending_deadlines(claim):
                self._plan(Deadline(kind, claim_id, due_at, claim.state.order_id))
        for planned in work.automatic_filings(now, self.policy):
            key = (planned.kind, planned.claim_id)
            if planned.due_at is None:
                self._drop(key)
                continue
            self._plan(
                Deadline(
                    planned.kind,
                    planned.claim_id,
                    planned.due_at,
                    planned.order_id,
                    planned.contact_id,
                )
            )

    def _plan(self, deadline: Deadline) -> None:
        self._deadlines[(deadline.kind, deadline.claim_id)] = deadline
        self._kinds.setdefault(deadline.claim_id, set()).add(deadline.kind)
        heapq.heappush(self._due, (deadline.due_at, deadline.kind, deadline.claim_id))

    def _drop(self, key: DeadlineKey) -> None:
        # The heap keeps its entry; fire_until skips an entry whose deadline is gone or moved.
        if self._deadlines.pop(key, None) is not None:
            self._kinds[key[1]].discard(key[0])
