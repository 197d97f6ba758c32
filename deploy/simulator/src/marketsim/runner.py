"""Plays a :class:`~marketsim.world.World` against a running platform.

Order facts go to ``orders.v1`` as an order system would publish them; claims and every later
move (seller responses, withdrawals, reviewer decisions, appeals) go through intake's HTTP API
with a service token acting on behalf of each party (``X-On-Behalf-Of``) at the simulated time
(``X-Event-Time``). The platform's answers are read on ``claims.events.v1``; a seller answers a
claim only once the platform has asked (``claim.action_required``), a reviewer decides only what
is under review, exactly as people would. A move the platform refuses counts as part of its
story when the story says it must be refused (a replacement promised months out), as a problem
otherwise.

Simulated time moves in steps, each given the same slice of wall time, so 90 days play in a few
minutes on the services' event-time clock. Before time moves on, every claim filed a step ago
must have been answered: the simulation never outruns the platform, so no deadline fires
because the simulator was slow to react.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import codec
from contracts.claims import (
    ClaimAppealed,
    ClaimCommandRejected,
    ClaimDecided,
    ClaimDenied,
    ClaimEvent,
)
from contracts.envelope import wrap
from contracts.orders import OrderFact
from contracts.topics import CLAIMS_EVENTS, ORDERS
from marketsim.retries import RetryPolicy
from marketsim.scenarios import Call, Case, Fact, Party, Reaction
from marketsim.world import World, event_id
from servicekit.kafka import KafkaAccess

SOURCE: Final = "/atoz/simulator"
REVIEWER: Final = "reviewer-sim"
# A reviewer decides a day after a claim goes under review and rules on an appeal two days
# after it is filed: both well inside the review window (scenarios.REVIEW_WINDOW).
REVIEW_AFTER: Final = timedelta(days=1)
APPEAL_AFTER: Final = timedelta(days=3)
RULING_AFTER: Final = timedelta(days=2)
DECISIONS: Final = frozenset({"claim.decided", "claim.under_review", "claim.appeal_decided"})


@dataclass(frozen=True, slots=True)
class Target:
    """Where the platform is and the service token the simulator acts with."""

    intake_url: str
    kafka: KafkaAccess
    token: str
    retries: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class Pace:
    wall_seconds: float = 150.0
    """Wall time for the whole simulated span (the platform may make it longer)."""
    step: timedelta = timedelta(hours=6)
    catch_up_timeout: float = 60.0
    """How long to wait for the platform to answer a step's claims before moving on anyway."""
    settle_timeout: float = 120.0
    """After the last day, how long to wait for every claim to reach its end."""


@dataclass(slots=True)
class Progress:
    """What the run has done so far; ``on_step`` gets it after every step."""

    now: datetime
    steps_done: int = 0
    steps_total: int = 0
    facts: int = 0
    filed: int = 0
    calls: int = 0
    events: int = 0
    settled: int = 0
    cases: int = 0


@dataclass(slots=True)
class Observed:
    """Everything the run saw, for the summary."""

    wall_seconds: float = 0.0
    facts_published: int = 0
    http_calls: int = 0
    http_failures: list[str] = field(default_factory=list)
    abandoned: set[str] = field(default_factory=set)
    """Orders whose claim lost a call the simulator gave up on after its retry budget: their
    outcome is not the platform's to answer for."""
    events: int = 0
    decisive_rules: dict[str, set[str]] = field(default_factory=dict)
    """By claim: the rules that made its outcome (admission checks that passed left out)."""
    event_types: Counter[str] = field(default_factory=Counter)
    filing_latency_ms: list[float] = field(default_factory=list)
    """Wall time from intake's 202 to the claim's first answer on claims.events.v1."""
    decision_latency_ms: list[float] = field(default_factory=list)
    """Wall time from a seller's or reviewer's 202 to the decision it caused."""
    unsettled: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Moves the platform refused (claim.command_rejected) that no story expects, with the
    reason: a problem, in the simulator or in the platform."""
    refused_as_expected: Counter[str] = field(default_factory=Counter)
    """By reason, moves the platform refused as their story says it must (a replacement
    promised months out...): part of the story, not a failed move."""
    lagging_steps: int = 0
    claim_events: list[ClaimEvent] = field(default_factory=list)
    facts: list[OrderFact] = field(default_factory=list)
    """Every order fact published, for recomputing the ODR from what happened."""


@dataclass(frozen=True, slots=True)
class _Sent:
    """A move intake accepted, until the platform has answered it."""

    at: datetime
    wall: float
    decides: bool
    """Answered by a decision (timed, for the latency figures); else by ``claim.responded``
    (the move recorded, the claim waiting) or by its refusal."""


@dataclass(order=True, slots=True)
class _Due:
    at: datetime
    seq: int
    case: Case = field(compare=False)
    reaction: Reaction = field(compare=False)
    label: str = field(compare=False, default="")


class Runner:
    def __init__(
        self,
        world: World,
        target: Target,
        pace: Pace = Pace(),  # a frozen value
        *,
        on_step: Callable[[Progress], None] | None = None,
    ) -> None:
        self.world = world
        self.target = target
        self.pace = pace
        self.on_step = on_step or (lambda _: None)
        self.observed = Observed()
        # Jitter is timing, not the world: the same seed builds the same marketplace whatever
        # the retries draw.
        self._jitter = random.Random()  # jitter, not secrecy
        self._due: list[_Due] = []
        self._seq = 0
        self._answered: set[str] = set()  # orders whose claim the platform has answered
        self._filed_at: dict[str, tuple[datetime, float]] = {}  # order -> (sim time, wall)
        # order -> the move intake last accepted for its claim, until the platform answers it
        self._waiting: dict[str, _Sent] = {}
        self._rejections: set[str] = set()  # command ids whose refusal was counted
        self._seen_appeal: set[str] = set()
        self._heard = asyncio.Event()  # set whenever a claim event arrives
        self._http: httpx.AsyncClient | None = None
        self._producer: AIOKafkaProducer | None = None

    # --- the run ------------------------------------------------------------------------
    async def run(self) -> Observed:
        started = time.monotonic()
        self._http = httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )
        self._producer = AIOKafkaProducer(
            **self.target.kafka.options(),
            client_id="atoz-simulator",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        consumer = AIOKafkaConsumer(
            **self.target.kafka.options(),
            enable_auto_commit=False,
            client_id="atoz-simulator-tail",
        )
        await self._producer.start()
        await consumer.start()
        try:
            partitions = [
                TopicPartition(CLAIMS_EVENTS.name, p) for p in range(CLAIMS_EVENTS.partitions)
            ]
            consumer.assign(partitions)
            # Only what this run causes: start from the end the topic has now.
            for tp, offset in (await consumer.end_offsets(partitions)).items():
                consumer.seek(tp, offset)
            tail = asyncio.create_task(self._tail(consumer))
            try:
                await self._play()
                await self._settle()
            finally:
                tail.cancel()
                await asyncio.gather(tail, return_exceptions=True)
        finally:
            await consumer.stop()
            await self._producer.stop()
            await self._http.aclose()
        self.observed.wall_seconds = time.monotonic() - started
        self.observed.unsettled = [
            c.order_id for c in self.world.cases.values() if not self._settled(c)
        ]
        return self.observed

    async def _play(self) -> None:
        config, pace = self.world.config, self.pace
        steps = max(1, int((config.end - config.start) / pace.step))
        wall_per_step = pace.wall_seconds / steps
        timeline = self.world.timeline
        index, began = 0, time.monotonic()
        progress = Progress(config.start, steps_total=steps, cases=len(self.world.cases))
        for step in range(steps):
            step_end = config.start + pace.step * (step + 1)
            facts: list[tuple[datetime, OrderFact]] = []
            filings: list[Case] = []
            while index < len(timeline) and timeline[index].at < step_end:
                item = timeline[index]
                if item.fact is not None:
                    facts.append((item.at, item.fact))
                elif item.case is not None:
                    filings.append(item.case)
                index += 1
            await self._publish(facts)
            await asyncio.gather(*(self._file(case) for case in filings))
            await self._react_until(step_end)
            await self._catch_up(step_end - pace.step)
            progress.now, progress.steps_done = step_end, step + 1
            self._report(progress)
            # Give every step the same slice of wall time, so the clocks move steadily.
            ahead = began + wall_per_step * (step + 1) - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def _settle(self) -> None:
        """After the last day: play what is still due, until every case has ended."""
        deadline = time.monotonic() + self.pace.settle_timeout
        while time.monotonic() < deadline:
            await self._react_until(self.world.config.end)
            if all(self._settled(case) for case in self.world.cases.values()) and not self._due:
                return
            await asyncio.sleep(0.25)

    def _report(self, progress: Progress) -> None:
        progress.facts = self.observed.facts_published
        progress.filed = len(self._filed_at)
        progress.calls = self.observed.http_calls
        progress.events = self.observed.events
        progress.settled = sum(1 for case in self.world.cases.values() if self._settled(case))
        self.on_step(progress)

    # --- outputs ------------------------------------------------------------------------
    async def _publish(self, facts: list[tuple[datetime, OrderFact]]) -> None:
        assert self._producer is not None  # noqa: S101  # set by run()
        seed = self.world.config.seed
        sends = []
        for at, fact in facts:
            order_id = fact.order_id
            envelope = wrap(
                fact,
                source=SOURCE,
                subject=order_id,
                time=at,
                event_id=event_id(seed, order_id, fact.type, at.isoformat()),
            )
            sends.append(
                await self._producer.send(
                    ORDERS.name, codec.encode(envelope), key=codec.message_key(ORDERS, envelope)
                )
            )
        await asyncio.gather(*sends)
        self.observed.facts_published += len(facts)
        self.observed.facts.extend(fact for _, fact in facts)

    async def _post(
        self, path: str, on_behalf_of: str, at: datetime, key: str, body: Any, *, order_id: str
    ) -> httpx.Response | None:
        assert self._http is not None  # noqa: S101  # set by run()
        headers = {
            "Authorization": f"Bearer {self.target.token}",
            "X-On-Behalf-Of": on_behalf_of,
            "X-Event-Time": at.isoformat(),
            "Idempotency-Key": f"sim{self.world.config.seed}-{key}",
        }
        url = self.target.intake_url.rstrip("/") + path
        policy = self.target.retries
        give_up = time.monotonic() + policy.budget
        attempt = 0
        while True:
            status: int | None = None
            retry_after: str | None = None
            try:
                answer = await self._http.post(url, json=body, headers=headers)
            except httpx.TransportError as error:
                failure = f"{path}: {error!r}"
            else:
                self.observed.http_calls += 1
                if answer.status_code == 202:
                    return answer
                status, retry_after = answer.status_code, answer.headers.get("retry-after")
                failure = f"{path}: {answer.status_code} {answer.text[:300]}"
            # The same Idempotency-Key on every attempt: a retry is the same command, applied
            # once, even when an earlier attempt was recorded after all.
            wait = policy.wait(attempt, retry_after, self._jitter)
            if not policy.worth_retrying(status) or time.monotonic() + wait > give_up:
                break
            await asyncio.sleep(wait)
            attempt += 1
        self.observed.http_failures.append(failure)
        self.observed.abandoned.add(order_id)
        return None

    async def _file(self, case: Case) -> None:
        assert case.filing is not None  # noqa: S101  # only buyer filings are on the timeline
        answer = await self._post(
            "/v1/claims",
            f"buyer:{case.buyer_id}",
            case.filing.at,
            f"{case.order_id}-file",
            case.filing.body,
            order_id=case.order_id,
        )
        if answer is not None:
            case.claim_id = answer.json()["claim_id"]
            self._filed_at[case.order_id] = (case.filing.at, time.monotonic())

    async def _react_until(self, moment: datetime) -> None:
        due: list[_Due] = []
        while self._due and self._due[0].at < moment:
            due.append(heapq.heappop(self._due))
        facts = [(d.at, d.reaction.build(d.at)) for d in due if isinstance(d.reaction, Fact)]
        await self._publish(facts)
        await asyncio.gather(*(self._call(d) for d in due if isinstance(d.reaction, Call)))

    async def _call(self, due: _Due) -> None:
        call, case = due.reaction, due.case
        assert isinstance(call, Call)  # noqa: S101  # filtered by the caller
        subject = {"buyer": case.buyer_id, "seller": case.seller_id, "reviewer": REVIEWER}
        answer = await self._post(
            f"/v1/claims/{case.claim_id}/{call.action}",
            f"{call.party}:{subject[call.party]}",
            due.at,
            f"{case.order_id}-{due.label or call.action}",
            call.body,
            order_id=case.order_id,
        )
        # A move that decides nothing now (a replacement decided when delivered, a partial
        # refund) is waited on until the platform has recorded it, not timed.
        if answer is not None and call.action in ("response", "decision"):
            self._waiting[case.order_id] = _Sent(due.at, time.monotonic(), call.decides)

    def _schedule(self, case: Case, trigger: datetime, reaction: Reaction, label: str = "") -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(trigger + reaction.after, self._seq, case, reaction, label))

    # --- inputs -------------------------------------------------------------------------
    async def _tail(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batch.values():
                for record in records:
                    try:
                        envelope = codec.decode(CLAIMS_EVENTS, record.value)
                    except codec.ContractError:
                        continue  # not ours to judge; the platform's DLQ tooling is
                    if isinstance(envelope.data, ClaimEvent):
                        self._on_event(envelope.data, envelope.time)
                    elif isinstance(envelope.data, ClaimCommandRejected):
                        self._on_rejected(envelope.data)
            self._heard.set()

    def _on_event(self, event: ClaimEvent, at: datetime) -> None:
        case = self.world.cases.get(event.order_id)
        if case is None:
            return  # another producer's claim
        observed = self.observed
        observed.events += 1
        observed.event_types[event.type] += 1
        decisive = observed.decisive_rules.setdefault(event.claim_id, set())
        if isinstance(event, ClaimDenied) and event.rules:
            decisive.add(event.rules[-1])  # the checks run in order; the last one failed
        elif event.type not in ("claim.action_required", "claim.responded"):
            decisive.update(event.rules)
        observed.claim_events.append(event)
        state = event.claim
        if case.claim_id is None:
            case.claim_id = event.claim_id  # the platform filed it
        if event.claim_id != case.claim_id:
            return
        seen = case.observed
        if state.version > seen.get("version", 0):
            seen.update(state.model_dump(mode="json"))
        seen.setdefault("rules", []).extend(event.rules)
        if isinstance(event, ClaimDenied):
            seen["denial_reason"] = event.reason
        elif isinstance(event, ClaimDecided) and event.denial_reason:
            seen["denial_reason"] = event.denial_reason
        now = time.monotonic()
        if event.order_id not in self._answered and event.type != "claim.filed":
            self._answered.add(event.order_id)
            filed = self._filed_at.get(event.order_id)
            if filed is not None:
                observed.filing_latency_ms.append((now - filed[1]) * 1000)
        sent = self._waiting.get(event.order_id)
        decision = event.type in DECISIONS or (
            event.type == "claim.closed" and state.resolution != "granted"
        )
        if sent is not None and (decision if sent.decides else event.type == "claim.responded"):
            del self._waiting[event.order_id]
            if sent.decides:
                observed.decision_latency_ms.append((now - sent.wall) * 1000)
        self._react(case, event, at)

    def _on_rejected(self, rejected: ClaimCommandRejected) -> None:
        """A move the platform refused: nothing will follow it, so stop waiting. Counted as
        expected when its story says the platform must refuse a move for that reason (and has
        not had that many such refusals yet), else as a problem."""
        case = self.world.cases.get(rejected.order_id)
        if case is None or rejected.claim_id != case.claim_id:
            return
        self._waiting.pop(rejected.order_id, None)
        if rejected.command_id in self._rejections:
            return  # the same refusal read twice
        self._rejections.add(rejected.command_id)
        refusals: list[str] = case.observed.setdefault("refusals", [])
        expected = case.refusals.count(rejected.reason) > refusals.count(rejected.reason)
        refusals.append(rejected.reason)
        if expected:
            self.observed.refused_as_expected[rejected.reason] += 1
        else:
            self.observed.rejected.append(
                f"{rejected.order_id} {rejected.command_type}: {rejected.reason}"
                f" ({rejected.detail})"
            )

    def _react(self, case: Case, event: ClaimEvent, at: datetime) -> None:
        state, review = event.claim, case.review
        if event.type == "claim.action_required" and not case.observed.get("asked"):
            case.observed["asked"] = True
            for n, reaction in enumerate(case.on_action_required):
                self._schedule(case, at, reaction, f"move{n}")
        elif event.type == "claim.under_review" and review is not None:
            decision: dict[str, Any] = {"kind": "review", "outcome": review.outcome}
            if review.outcome == "granted":
                decision["funded_by"] = review.funded_by
            else:
                decision["denial_reason"] = "reviewer_denied"
                decision["note"] = "The photos show the item as described."
            body = {"order_id": case.order_id, "decision": decision}
            self._schedule(case, at, Call("reviewer", "decision", body, REVIEW_AFTER), "review")
        elif event.type == "claim.closed" and review is not None and review.appeal:
            party: Party
            if state.resolution == "granted" and state.funded_by == "seller":
                party = "seller"
            elif state.resolution == "denied":
                party = "buyer"
            else:
                return
            body = {"order_id": case.order_id, "statement": f"The {party} asks for another look."}
            self._schedule(case, at, Call(party, "appeals", body, APPEAL_AFTER), "appeal")
        elif isinstance(event, ClaimAppealed) and review is not None and review.appeal:
            if event.order_id in self._seen_appeal:
                return
            self._seen_appeal.add(event.order_id)
            ruling: dict[str, Any] = {
                "kind": "appeal",
                "appeal_id": event.appeal_id,
                "outcome": review.appeal,
            }
            if review.appeal == "reversed" and review.outcome == "denied":
                ruling |= {"funded_by": "seller", "counts_toward_odr": True}
            body = {"order_id": case.order_id, "decision": ruling}
            self._schedule(case, at, Call("reviewer", "decision", body, RULING_AFTER), "ruling")

    # --- pacing -------------------------------------------------------------------------
    async def _catch_up(self, filed_before: datetime) -> None:
        """Wait until the platform has answered every claim filed, and decided every move
        made, before ``filed_before``."""

        def behind() -> list[str]:
            # Claims not yet answered, and moves (responses, decisions) not yet decided: a
            # deadline must not fire because the platform has not read a move sent in time.
            unanswered = [
                order
                for order, (at, _) in self._filed_at.items()
                if at < filed_before and order not in self._answered
            ]
            undecided = [o for o, sent in self._waiting.items() if sent.at < filed_before]
            return unanswered + undecided

        deadline = time.monotonic() + self.pace.catch_up_timeout
        if not behind():
            return
        self.observed.lagging_steps += 1
        while behind() and (left := deadline - time.monotonic()) > 0:
            self._heard.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), left)
        for order in behind():  # given up on: waiting again at every step would stall the run
            self._waiting.pop(order, None)
            self._answered.add(order)

    def _settled(self, case: Case) -> bool:
        seen = case.observed
        if seen.get("status") != case.expected.status:
            return False
        review = case.review
        if review is not None and review.appeal:
            return "appeal.upheld" in seen["rules"] or "appeal.reversed" in seen["rules"]
        if review is not None:
            return "review.decided_by_reviewer" in seen["rules"]
        return True
