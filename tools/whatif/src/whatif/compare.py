"""The comparison, pure: one history replayed under a baseline and a candidate policy
(:mod:`adjudication.replay`, :mod:`metrics.replay`), and what differs, as a :class:`Report`.

- **Claims** whose outcome changes (status, resolution, who funds it, whether it counts toward
  the ODR), grouped by reason and by the rule that decided each side, with examples.
- **Money**: the amounts granted, per currency and funder (platform or seller), and what sellers
  refunded themselves, under each policy and the difference.
- **Sellers** whose status changes, and the distribution of ODR under each policy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from adjudication.policy import Policy
from adjudication.replay import Replay
from contracts.claims import ClaimCommand, ClaimState
from contracts.envelope import Envelope
from contracts.orders import OrderFact
from contracts.policy import PolicyDocument, PolicyVersion
from metrics.odr import OdrSettings
from metrics.replay import OdrReplay

Service = Literal["adjudication", "metrics"]
"""A live service whose rules are replayed (and whose dead letters its replay skips)."""

EXAMPLES: Final = 5
"""Claims named per group of changes."""

ODR_BUCKETS: Final[tuple[tuple[str, Decimal, Decimal | None], ...]] = (
    ("0%", Decimal(0), Decimal(0)),
    ("under 0.5%", Decimal(0), Decimal("0.005")),
    ("0.5% to 1%", Decimal("0.005"), Decimal("0.01")),
    ("1% to 2%", Decimal("0.01"), Decimal("0.02")),
    ("2% to 5%", Decimal("0.02"), Decimal("0.05")),
    ("5% or more", Decimal("0.05"), None),
)
"""ODR ranges, each from its lower bound included to its upper bound excluded (the first is
exactly zero)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Outcome(_Model):
    """Where a claim ended under one policy."""

    status: str
    resolution: str | None
    funded_by: str
    counts_toward_odr: bool
    rule: str | None
    """The last rule of the claim's latest decision (what decided it)."""


class ClaimChange(_Model):
    claim_id: str
    order_id: str
    seller_id: str | None
    reason: str
    amount: Decimal
    currency: str
    baseline: Outcome | None
    candidate: Outcome | None
    """None: the claim does not exist under this policy (the platform filed under the other)."""


class ChangeGroup(_Model):
    reason: str
    baseline_rule: str | None
    candidate_rule: str | None
    claims: int
    examples: tuple[str, ...]


class Money(_Model):
    currency: str
    funder: str
    """platform or seller (granted claims), or refunded (sellers who refunded themselves)."""
    baseline: Decimal
    candidate: Decimal

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def difference(self) -> Decimal:
        return self.candidate - self.baseline


class SellerChange(_Model):
    seller_id: str
    baseline_status: str
    candidate_status: str
    baseline_rate: Decimal
    candidate_rate: Decimal


class Bucket(_Model):
    label: str
    baseline: int
    candidate: int


class Report(_Model):
    """Everything ``atoz-whatif`` reports (also its JSON)."""

    baseline: PolicyVersion
    candidate: PolicyVersion
    first_input: datetime | None
    last_input: datetime | None
    as_of: date | None
    facts: int
    commands: int
    skipped: dict[str, int] = {}
    """Per live service, the inputs it dead-lettered, which its replay skipped."""
    claims_baseline: int
    claims_candidate: int
    changed: tuple[ClaimChange, ...]
    groups: tuple[ChangeGroup, ...]
    money: tuple[Money, ...]
    sellers: tuple[SellerChange, ...]
    odr_distribution: tuple[Bucket, ...]
    sellers_measured: int


def _outcome(replay: Replay, claim: ClaimState) -> Outcome:
    decision = replay.last_decision.get(claim.claim_id)
    rules = decision.rules if decision is not None else ()
    return Outcome(
        status=claim.status,
        resolution=claim.resolution,
        funded_by=claim.funded_by,
        counts_toward_odr=claim.counts_toward_odr,
        rule=rules[-1] if rules else None,
    )


def replay(
    inputs: Sequence[Envelope[Any]],
    policy: Policy,
    odr_settings: OdrSettings,
    *,
    until: datetime | None = None,
    refused: Mapping[Service, Container[int]] = MappingProxyType({}),
    on_progress: Callable[[int], None] = lambda done: None,
) -> tuple[Replay, OdrReplay]:
    """One policy's adjudication and metric over ``inputs`` (in event-time order), each
    without the inputs its live service refused (``refused``: indices, per service)."""
    claims, metric = Replay(policy), OdrReplay(odr_settings)
    unjudged, unmeasured = refused.get("adjudication", ()), refused.get("metrics", ())
    for done, envelope in enumerate(inputs, 1):
        if done - 1 not in unjudged:
            claims.feed(envelope)
        if isinstance(envelope.data, OrderFact) and done - 1 not in unmeasured:
            metric.fact(envelope.data)
        if done % 10_000 == 0:
            on_progress(done)
    claims.finish(until)
    metric.claims(claim.state for claim in claims.claims())
    on_progress(len(inputs))
    return claims, metric


def compare(
    inputs: Sequence[Envelope[Any]],
    baseline: PolicyDocument,
    candidate: PolicyDocument,
    *,
    until: datetime | None = None,
    refused: Mapping[Service, Collection[int]] = MappingProxyType({}),
    on_progress: Callable[[str, int], None] = lambda side, done: None,
) -> Report:
    """Replay ``inputs`` under both policies and report what differs; what a live service
    refused (``refused``: indices into ``inputs``, per service) its replay skips too."""
    sides = {}
    for name, document in (("baseline", baseline), ("candidate", candidate)):
        sides[name] = replay(
            inputs,
            Policy.from_document(document),
            OdrSettings.from_document(document),
            until=until,
            refused=refused,
            on_progress=lambda done, side=name: on_progress(side, done),  # type: ignore[misc]
        )
    (before, before_odr), (after, after_odr) = sides["baseline"], sides["candidate"]
    last = until or (inputs[-1].time if inputs else None)
    as_of = last.date() if last else None
    changes = _changed_claims(before, after)
    health = (before_odr.health(as_of), after_odr.health(as_of)) if as_of else ({}, {})
    return Report(
        baseline=baseline.version,
        candidate=candidate.version,
        first_input=inputs[0].time if inputs else None,
        last_input=inputs[-1].time if inputs else None,
        as_of=as_of,
        facts=sum(isinstance(e.data, OrderFact) for e in inputs),
        commands=sum(isinstance(e.data, ClaimCommand) for e in inputs),
        skipped={service: len(indices) for service, indices in sorted(refused.items())},
        claims_baseline=sum(1 for _ in before.claims()),
        claims_candidate=sum(1 for _ in after.claims()),
        changed=tuple(changes),
        groups=_groups(changes),
        money=_money(before, after),
        sellers=_sellers(*health),
        odr_distribution=_distribution(*health),
        sellers_measured=len(set(health[0]) | set(health[1])),
    )


def _changed_claims(before: Replay, after: Replay) -> list[ClaimChange]:
    old = {c.state.claim_id: c.state for c in before.claims()}
    new = {c.state.claim_id: c.state for c in after.claims()}
    found = []
    for claim_id in sorted(old.keys() | new.keys()):
        was, now = old.get(claim_id), new.get(claim_id)
        was_outcome = _outcome(before, was) if was else None
        now_outcome = _outcome(after, now) if now else None
        if _same(was_outcome, now_outcome):
            continue
        state = now or was
        assert state is not None  # noqa: S101  # the id came from one side
        found.append(
            ClaimChange(
                claim_id=claim_id,
                order_id=state.order_id,
                seller_id=state.seller_id,
                reason=state.reason,
                amount=state.amount.amount,
                currency=state.amount.currency,
                baseline=was_outcome,
                candidate=now_outcome,
            )
        )
    return found


def _same(was: Outcome | None, now: Outcome | None) -> bool:
    """The same outcome: the rule that decided may differ in name only if the result is the
    same (status, resolution, funder, ODR)."""
    if was is None or now is None:
        return was is now
    return (was.status, was.resolution, was.funded_by, was.counts_toward_odr) == (
        now.status,
        now.resolution,
        now.funded_by,
        now.counts_toward_odr,
    )


def _groups(changes: Sequence[ClaimChange]) -> tuple[ChangeGroup, ...]:
    by_key: dict[tuple[str, str | None, str | None], list[str]] = {}
    for change in changes:
        key = (
            change.reason,
            change.baseline.rule if change.baseline else None,
            change.candidate.rule if change.candidate else None,
        )
        by_key.setdefault(key, []).append(change.claim_id)
    ordered = sorted(by_key.items(), key=lambda item: (-len(item[1]), str(item[0])))
    return tuple(
        ChangeGroup(reason=reason, baseline_rule=old, candidate_rule=new, claims=len(ids),
                    examples=tuple(ids[:EXAMPLES]))
        for (reason, old, new), ids in ordered
    )  # fmt: skip


def _paid(replay: Replay) -> defaultdict[tuple[str, str], Decimal]:
    totals: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for claim in replay.claims():
        state = claim.state
        currency = state.amount.currency
        if state.resolution == "granted" and state.funded_by in ("platform", "seller"):
            totals[(currency, state.funded_by)] += state.amount.amount
        elif state.resolution == "refunded_by_seller":
            totals[(currency, "refunded")] += state.amount.amount
    return totals


def _money(before: Replay, after: Replay) -> tuple[Money, ...]:
    was, now = _paid(before), _paid(after)
    return tuple(
        Money(currency=currency, funder=funder, baseline=was[(currency, funder)],
              candidate=now[(currency, funder)])
        for currency, funder in sorted(was.keys() | now.keys())
    )  # fmt: skip


def _sellers(before: dict[str, Any], after: dict[str, Any]) -> tuple[SellerChange, ...]:
    changed = []
    for seller in sorted(before.keys() | after.keys()):
        was, now = before.get(seller), after.get(seller)
        was_status = was.status if was else "NORMAL"
        now_status = now.status if now else "NORMAL"
        if was_status == now_status:
            continue
        changed.append(
            SellerChange(
                seller_id=seller,
                baseline_status=was_status,
                candidate_status=now_status,
                baseline_rate=was.combined.rate if was else Decimal(0),
                candidate_rate=now.combined.rate if now else Decimal(0),
            )
        )
    return tuple(changed)


def bucket_of(rate: Decimal) -> str:
    """The label of the ODR range ``rate`` falls in (:data:`ODR_BUCKETS`)."""
    if rate == 0:
        return ODR_BUCKETS[0][0]
    for label, low, high in ODR_BUCKETS[1:]:
        if rate >= low and (high is None or rate < high):
            return label
    raise ValueError(f"a rate of {rate} is in no bucket")  # unreachable: the last is open


def _distribution(before: dict[str, Any], after: dict[str, Any]) -> tuple[Bucket, ...]:
    was = Counter(bucket_of(h.combined.rate) for h in before.values())
    now = Counter(bucket_of(h.combined.rate) for h in after.values())
    return tuple(Bucket(label=label, baseline=was[label], candidate=now[label])
                 for label, _, _ in ODR_BUCKETS)  # fmt: skip
