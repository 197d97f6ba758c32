"""The simulated marketplace, built up front from a seed: sellers, buyers, orders and every
order's facts, plus the claim stories (:mod:`marketsim.scenarios`) some orders run into.

Pure and deterministic: the same :class:`WorldConfig` gives the same world, down to message
ids. Reactions to the platform (a seller answering a claim, a reviewer deciding) cannot be
placed on the timeline up front, since they wait for the platform; they are planned here
(:class:`~marketsim.scenarios.Case`) and played by :mod:`marketsim.runner`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from contracts.base import Money, PositiveMoney
from contracts.orders import (
    BuyerContactedSeller,
    ChargebackFiled,
    ContactTopic,
    FeedbackPosted,
    FeedbackRemoved,
    OrderDelivered,
    OrderDeliveryFailed,
    OrderFact,
    OrderItem,
    OrderPlaced,
    OrderRefunded,
    OrderShipped,
    ReturnDelivered,
    ReturnShipped,
    SellerReplied,
)
from marketsim.profiles import PROFILES, SellerProfile
from marketsim.scenarios import (
    POLICY,
    Action,
    Call,
    Case,
    Expected,
    Fact,
    Filing,
    Party,
    Reaction,
    ReviewPlan,
    Scenario,
    denied,
    granted,
    still_open,
)

SIGNATURE_THRESHOLD: Final = POLICY.guarantee.signature_threshold
"""Above it, a delivery needs a signature and an ID check (750)."""
CHAIN_DAYS: Final = 12
"""A claim is filed only if its whole story (response, review, appeal) fits before the end."""
OPEN_AT_END_SHARE: Final = 0.015
"""Of the orders placed 16 to 20 days before the end, those whose claim is still open then:
the dashboard's queues are not empty after a run."""

MARKETPLACES: Final = (("fr", "EUR", "fr"), ("de", "EUR", "de"), ("es", "EUR", "es"))
CATALOGUE: Final = (
    "Espresso machine",
    "Trail running shoes",
    "Noise-cancelling headphones",
    "Cast-iron casserole",
    "Mechanical keyboard",
    "Road bike helmet",
    "Linen bedding set",
    "Smart thermostat",
    "Camping stove",
    "Watercolour paint set",
)
CARRIERS: Final = ("colissimo", "dhl", "ups", "gls")


@dataclass(frozen=True, slots=True)
class WorldConfig:
    seed: int = 7
    days: int = 90
    end: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    """The simulated span ends here: this hour, so the platform goes on in real time after it."""
    sellers_per_profile: int = 4
    order_scale: float = 1.0
    """Multiplies every seller's daily orders (0.2 for a quick run)."""

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Seller:
    seller_id: str
    profile: SellerProfile
    marketplace: str
    currency: str
    language: str
    daily_orders: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Timed:
    """Something the simulator does at ``at``: publish an order fact, or file a claim."""

    at: datetime
    seq: int
    fact: OrderFact | None = None
    case: Case | None = None


@dataclass(slots=True)
class World:
    config: WorldConfig
    sellers: list[Seller]
    timeline: list[Timed]
    cases: dict[str, Case]
    """By order id: every order has at most one claim story."""
    orders: int = 0


def event_id(seed: int, *parts: object) -> str:
    """A stable message id: the same world publishes the same ids, so a rerun is a no-op."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"atoz-sim:{seed}:" + ":".join(map(str, parts))))


class _Builder:
    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.timeline: list[Timed] = []
        self.cases: dict[str, Case] = {}
        self.orders = 0

    # --- timeline -----------------------------------------------------------------------
    def at(self, moment: datetime, fact: OrderFact) -> None:
        if moment < self.config.end:
            self.timeline.append(Timed(moment, len(self.timeline), fact=fact))

    def file(self, case: Case) -> None:
        assert case.filing is not None  # noqa: S101  # only buyer filings go on the timeline
        self.timeline.append(Timed(case.filing.at, len(self.timeline), case=case))
        self.cases[case.order_id] = case

    # --- the marketplace ----------------------------------------------------------------
    def sellers(self) -> list[Seller]:
        sellers = []
        for profile in PROFILES:
            for n in range(1, self.config.sellers_per_profile + 1):
                marketplace, currency, language = self.rng.choice(MARKETPLACES)
                low, high = profile.orders_per_day
                daily = (
                    max(1, round(low * self.config.order_scale)),
                    max(1, round(high * self.config.order_scale)),
                )
                sellers.append(
                    Seller(
                        f"{profile.name.replace('_', '-')}-{n:02d}",
                        profile,
                        marketplace,
                        currency,
                        language,
                        daily,
                    )
                )
        return sellers

    def run(self) -> World:
        sellers = self.sellers()
        for day in range(self.config.days):
            midnight = self.config.start + timedelta(days=day)
            for seller in sellers:
                for _ in range(self.rng.randint(*seller.daily_orders)):
                    placed_at = midnight + timedelta(seconds=self.rng.randrange(86_400))
                    self.order(seller, placed_at)
        self.timeline.sort(key=lambda item: (item.at, item.seq))
        return World(self.config, sellers, self.timeline, self.cases, self.orders)

    def order(self, seller: Seller, placed_at: datetime) -> None:
        self.orders += 1
        rng, profile = self.rng, seller.profile
        order_id = f"o{self.config.seed}-{self.orders:06d}"
        buyer_id = f"buyer-{rng.randrange(1, 5000):04d}"
        platform = rng.random() < profile.platform_fulfilled_share
        scenario = self.claim_scenario(seller, platform)
        low, high = profile.price_range
        price = (low + (high - low) * Decimal(rng.random())).quantize(Decimal("0.01"))
        shipping = Decimal("4.90") if price < 50 else Decimal("0.00")
        order = _Order(
            seed=self.config.seed,
            order_id=order_id,
            seller=seller,
            buyer_id=buyer_id,
            placed_at=placed_at,
            price=price,
            shipping=shipping,
            platform=platform,
            late=rng.random() < profile.late_shipping_share,
            carrier=rng.choice(CARRIERS),
        )
        if scenario is Scenario.FILED_TOO_EARLY:
            order.edd_max_days = 14
        late_window = (
            self.config.end - timedelta(days=20) < placed_at < self.config.end - timedelta(days=13)
        )
        answers = profile.answers_buyers  # the open stories start with the seller's reply
        if answers and not platform and late_window and rng.random() < OPEN_AT_END_SHARE:
            scenario = rng.choice((Scenario.AWAITING_SELLER, Scenario.AWAITING_REVIEWER))
        self.at(placed_at, order.placed(rng.choice(CATALOGUE)))
        story = _STORIES.get(scenario) if scenario else None
        if story is None:
            self.plain(order)
            return
        case = story(self, order)
        if case is not None and case.filing is not None:
            self.file(case)
        elif case is not None:
            self.cases[order_id] = case

    def claim_scenario(self, seller: Seller, platform: bool) -> Scenario | None:
        profile = seller.profile
        if self.rng.random() >= profile.claim_share:
            return None
        names = list(profile.scenarios)
        picked = self.rng.choices(names, weights=[profile.scenarios[n] for n in names])[0]
        if platform != (picked is Scenario.NOT_COVERED):
            return None  # a platform-fulfilled order only tells the not-covered story
        return picked

    def fits(self, filing_at: datetime) -> bool:
        return filing_at + timedelta(days=CHAIN_DAYS) < self.config.end

    # --- an order without a claim -------------------------------------------------------
    def plain(self, order: _Order) -> None:
        rng, profile = self.rng, order.seller.profile
        shipped = order.ship(self, tracking=not order.late or rng.random() < 0.5)
        delivered = order.deliver(self, shipped, signed=profile.name == "careful")
        if rng.random() < profile.settled_contact_share:
            contact = delivered + timedelta(hours=rng.randrange(12, 72))
            cid = order.contact(self, contact, "damaged")
            if profile.name == "refund_happy":
                self.at(contact + timedelta(hours=3), order.refunded(contact + timedelta(hours=3)))
            self.at(contact + timedelta(hours=4), order.reply(cid, contact, resolved=True))
        roll = rng.random()
        if roll < profile.negative_feedback_share:
            posted = delivered + timedelta(days=rng.randrange(1, 6))
            fid = event_id(order.seed, order.order_id, "feedback")
            self.at(posted, order.feedback(fid, posted, rng.choice((1, 2))))
            if rng.random() < profile.feedback_removed_share:
                removed = posted + timedelta(days=rng.randrange(1, 5))
                self.at(removed, FeedbackRemoved(**order.ids, feedback_id=fid, removed_at=removed))
        elif roll < 0.08:
            posted = delivered + timedelta(days=rng.randrange(1, 6))
            fid = event_id(order.seed, order.order_id, "feedback")
            self.at(posted, order.feedback(fid, posted, rng.choice((4, 5, 5))))
        roll = rng.random()
        if roll < profile.service_chargeback_share + profile.fraud_chargeback_share:
            kind: Literal["service", "fraud"] = (
                "service" if roll < profile.service_chargeback_share else "fraud"
            )
            filed_at = delivered + timedelta(days=10)
            self.at(filed_at, order.chargeback(filed_at, kind))


@dataclass(slots=True)
class _Order:
    """One order's facts, in the words of its order system."""

    seed: int
    order_id: str
    seller: Seller
    buyer_id: str
    placed_at: datetime
    price: Decimal
    shipping: Decimal
    platform: bool
    late: bool
    carrier: str
    edd_max_days: int = 7

    @property
    def ids(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "seller_id": self.seller.seller_id}

    @property
    def total(self) -> Decimal:
        return self.price + self.shipping

    def money(self, amount: Decimal) -> dict[str, str]:
        # Fixed-point, never an exponent ("50.00", not "5.0E+1"): the contract's amount form.
        return {"amount": format(amount, "f"), "currency": self.seller.currency}

    @property
    def ship_by(self) -> datetime:
        return self.placed_at + timedelta(days=2)

    @property
    def edd_max(self) -> datetime:
        return self.placed_at + timedelta(days=self.edd_max_days)

    def placed(self, title: str) -> OrderPlaced:
        currency = self.seller.currency
        return OrderPlaced(
            **self.ids,
            buyer_id=self.buyer_id,
            marketplace_id=self.seller.marketplace,
            placed_at=self.placed_at,
            fulfillment="platform" if self.platform else "merchant",
            sold_by="third_party",
            items=(
                OrderItem(
                    sku=f"sku-{CATALOGUE.index(title):04d}",
                    title=title,
                    quantity=1,
                    unit_price=Money(amount=self.price, currency=currency),
                ),
            ),
            shipping=Money(amount=self.shipping, currency=currency),
            total=Money(amount=self.total, currency=currency),
            ship_by=self.ship_by,
            estimated_delivery_min=self.placed_at + timedelta(days=4),
            estimated_delivery_max=self.edd_max,
            buyer_language=self.seller.language,
        )

    def tracking_id(self, suffix: str = "") -> str:
        return f"{self.carrier.upper()}{self.order_id.split('-')[-1]}{suffix}"

    def ship(
        self, world: _Builder, *, tracking: bool = True, platform_label: bool = False
    ) -> datetime:
        days = 3 + world.rng.random() * 2 if self.late else 0.3 + world.rng.random() * 1.2
        shipped_at = self.placed_at + timedelta(days=days)
        world.at(
            shipped_at,
            OrderShipped(
                **self.ids,
                shipment_id=f"{self.order_id}-s1",
                shipped_at=shipped_at,
                carrier=self.carrier,
                tracking_id=self.tracking_id() if tracking else None,
                label_bought_through_platform=platform_label or self.platform,
            ),
        )
        return shipped_at

    def deliver(
        self, world: _Builder, shipped_at: datetime, *, signed: bool, tracked: bool = True
    ) -> datetime:
        delivered_at = shipped_at + timedelta(days=2 + world.rng.random() * 2)
        world.at(
            delivered_at,
            OrderDelivered(
                **self.ids,
                shipment_id=f"{self.order_id}-s1",
                delivered_at=delivered_at,
                carrier=self.carrier,
                tracking_id=self.tracking_id() if tracked else None,
                signature_obtained=signed,
                id_checked=signed and self.total > SIGNATURE_THRESHOLD,
            ),
        )
        return delivered_at

    def contact(self, world: _Builder, at: datetime, topic: ContactTopic) -> str:
        contact_id = f"{self.order_id}-c1"
        world.at(
            at,
            BuyerContactedSeller(
                **self.ids,
                contact_id=contact_id,
                buyer_id=self.buyer_id,
                contacted_at=at,
                topic=topic,
                message="Hello, there is a problem with my order.",
            ),
        )
        return contact_id

    def reply(self, contact_id: str, contacted_at: datetime, *, resolved: bool) -> SellerReplied:
        return SellerReplied(
            **self.ids,
            contact_id=contact_id,
            replied_at=contacted_at + timedelta(hours=4),
            resolved=resolved,
            message="Sorry about that, we are looking into it.",
        )

    def refunded(self, at: datetime) -> OrderRefunded:
        return OrderRefunded(
            **self.ids,
            refund_id=f"{self.order_id}-r1",
            refunded_at=at,
            amount=PositiveMoney(amount=self.total, currency=self.seller.currency),
            initiated_by="seller",
        )

    def feedback(self, feedback_id: str, at: datetime, rating: int) -> FeedbackPosted:
        return FeedbackPosted(**self.ids, feedback_id=feedback_id, posted_at=at, rating=rating)

    def chargeback(self, filed_at: datetime, kind: Literal["service", "fraud"]) -> ChargebackFiled:
        return ChargebackFiled(
            **self.ids,
            chargeback_id=f"{self.order_id}-cb1",
            filed_at=filed_at,
            kind=kind,
            amount=PositiveMoney(amount=self.total, currency=self.seller.currency),
        )

    def filing(
        self,
        at: datetime,
        reason: str,
        *,
        contact: tuple[str, datetime] | None,
        amount: Decimal | None = None,
    ) -> Filing:
        body: dict[str, Any] = {
            "order_id": self.order_id,
            "reason": reason,
            "amount": self.money(amount if amount is not None else self.total),
            "description": f"Simulated {reason.replace('_', ' ')} claim.",
        }
        if contact is not None:
            body["contact"] = {"contact_id": contact[0], "contacted_at": contact[1].isoformat()}
        return Filing(at, body)

    def buyer_files_after_contact(
        self, world: _Builder, contact_at: datetime, reason: ContactTopic, **kwargs: Any
    ) -> Filing | None:
        """The buyer writes, the seller replies without settling it, the buyer files six days
        later (past the two business days of the contact window, whatever the weekday)."""
        filing_at = contact_at + timedelta(days=6, hours=world.rng.randrange(0, 12))
        if not world.fits(filing_at):
            return None
        contact_id = self.contact(world, contact_at, reason)
        world.at(
            contact_at + timedelta(hours=4), self.reply(contact_id, contact_at, resolved=False)
        )
        return self.filing(filing_at, reason, contact=(contact_id, contact_at), **kwargs)


def _call(party: Party, action: Action, body: dict[str, Any], hours: float, **kw: Any) -> Call:
    return Call(party, action, body, timedelta(hours=hours), **kw)


def _dispute(order: _Order, *evidence: dict[str, Any], hours: float = 20) -> Call:
    body = {"order_id": order.order_id, "response": {"action": "dispute", "evidence": evidence}}
    return _call("seller", "response", body, hours)


def _tracking(order: _Order, shipped: datetime) -> dict[str, Any]:
    return {
        "kind": "tracking",
        "carrier": order.carrier,
        "tracking_id": order.tracking_id(),
        "shipped_at": shipped.isoformat(),
    }


def _message(at: datetime) -> dict[str, Any]:
    return {"kind": "message", "sent_at": at.isoformat(), "text": "We shipped as promised."}


# --- the stories ---------------------------------------------------------------------------
Story = Callable[[_Builder, _Order], Case | None]


def _case(
    order: _Order, scenario: Scenario, expected: Expected, filing: Filing | None, **kw: Any
) -> Case | None:
    if filing is None and expected.filed_by == "buyer":
        return None
    return Case(
        order.order_id, order.seller.seller_id, order.buyer_id, scenario, expected, filing, **kw
    )


def _disputed(
    order: _Order,
    scenario: Scenario,
    expected: Expected,
    filing: Filing | None,
    *evidence: dict[str, Any],
) -> Case | None:
    """A story in which the seller disputes the claim with ``evidence`` once asked."""
    return _case(
        order, scenario, expected, filing, on_action_required=(_dispute(order, *evidence),)
    )


def signed_proof_of_delivery(world: _Builder, order: _Order) -> Case | None:
    return _signed_proof(world, order, Scenario.SIGNED_PROOF_OF_DELIVERY, hours=20)


def answers_on_the_third_day(world: _Builder, order: _Order) -> Case | None:
    # Two hours clear of either end of the window: the answer is late for 48 hours, on time
    # for 72, whatever the step the run is paced at.
    return _signed_proof(
        world, order, Scenario.ANSWERS_ON_THE_THIRD_DAY, hours=50 + 20 * world.rng.random()
    )


def _signed_proof(
    world: _Builder, order: _Order, scenario: Scenario, *, hours: float
) -> Case | None:
    """The seller disputes a not-received claim, ``hours`` after being asked, with the
    carrier's signed delivery: the platform grants the buyer and pays itself."""
    shipped = order.ship(world)
    delivered = order.deliver(world, shipped, signed=True)
    filing = order.buyer_files_after_contact(world, delivered + timedelta(days=1), "not_received")
    proof = {
        "kind": "proof_of_delivery",
        "carrier": order.carrier,
        "tracking_id": order.tracking_id(),
        "delivered_at": delivered.isoformat(),
        "signature_obtained": True,
        "id_checked": order.total > SIGNATURE_THRESHOLD,
    }
    expected = granted("platform", "decision.signed_proof_of_delivery")
    dispute = _dispute(order, proof, hours=hours)
    return _case(order, scenario, expected, filing, on_action_required=(dispute,))


def shipping_protection(world: _Builder, order: _Order) -> Case | None:
    order.late = False
    shipped = order.ship(world, platform_label=True)  # lost in transit: no delivery scan
    filing = order.buyer_files_after_contact(
        world, order.edd_max + timedelta(days=1), "not_received"
    )
    evidence = (
        {
            "kind": "platform_label",
            "label_id": f"{order.order_id}-l",
            "bought_at": shipped.isoformat(),
        },
        {
            "kind": "shipped_on_time",
            "shipped_at": shipped.isoformat(),
            "ship_by": order.ship_by.isoformat(),
        },
        _tracking(order, shipped),
    )
    expected = granted("platform", "decision.shipping_protection")
    return _disputed(order, Scenario.SHIPPING_PROTECTION, expected, filing, *evidence)


def no_valid_tracking(world: _Builder, order: _Order) -> Case | None:
    order.late = True
    shipped = order.ship(world, tracking=False)  # never arrives, nothing to trace it
    filing = order.buyer_files_after_contact(
        world, order.edd_max + timedelta(days=1), "not_received"
    )
    expected = granted("seller", "decision.no_valid_tracking")
    return _disputed(order, Scenario.NO_VALID_TRACKING, expected, filing, _message(shipped))


def unsigned_above_threshold(world: _Builder, order: _Order) -> Case | None:
    shipped = order.ship(world)
    delivered = order.deliver(world, shipped, signed=False)
    filing = order.buyer_files_after_contact(world, delivered + timedelta(days=1), "not_received")
    tracking = _tracking(order, shipped)
    # Only a story above the threshold: a cheap order delivered unsigned goes to a reviewer.
    if order.total <= SIGNATURE_THRESHOLD:
        return None
    expected = granted("seller", "decision.no_valid_tracking")
    return _disputed(order, Scenario.UNSIGNED_ABOVE_THRESHOLD, expected, filing, tracking)


def returned_to_seller(world: _Builder, order: _Order) -> Case | None:
    order.late = False
    shipped = order.ship(world)
    failed_at = shipped + timedelta(days=2)
    world.at(
        failed_at,
        OrderDeliveryFailed(
            **order.ids,
            shipment_id=f"{order.order_id}-s1",
            failed_at=failed_at,
            failure="refused",
            returning_to_seller=True,
        ),
    )
    filing = order.buyer_files_after_contact(
        world, order.edd_max + timedelta(days=1), "not_received"
    )
    tracking = _tracking(order, shipped)
    expected = granted("seller", "decision.returned_to_seller", counts=False)
    return _disputed(order, Scenario.RETURNED_TO_SELLER, expected, filing, tracking)


def return_not_refunded(world: _Builder, order: _Order) -> Case | None:
    delivered = order.deliver(world, order.ship(world), signed=False)
    sent, arrived = delivered + timedelta(days=3), delivered + timedelta(days=6)
    world.at(
        sent,
        ReturnShipped(
            **order.ids, return_id=f"{order.order_id}-ret", shipped_at=sent, carrier=order.carrier
        ),
    )
    world.at(
        arrived,
        ReturnDelivered(**order.ids, return_id=f"{order.order_id}-ret", delivered_at=arrived),
    )
    filing = order.buyer_files_after_contact(
        world, arrived + timedelta(days=3), "return_not_refunded"
    )
    label = {"kind": "return_label", "return_address": "12 rue du Dépôt, Lyon"}
    expected = granted("seller", "decision.return_delivered_not_refunded")
    return _disputed(order, Scenario.RETURN_NOT_REFUNDED, expected, filing, label)


def silent_seller(world: _Builder, order: _Order) -> Case | None:
    delivered = order.deliver(world, order.ship(world), signed=False)
    contact_at = delivered + timedelta(days=1)
    if not world.fits(contact_at + timedelta(days=4)):
        return None
    order.contact(world, contact_at, "damaged")  # and no reply, ever
    expected = Expected(
        "granted", "seller", True, "decision.silent_seller_pays", filed_by="platform"
    )
    return _case(order, Scenario.SILENT_SELLER, expected, None)


def _damaged_claim(
    world: _Builder, order: _Order, reason: ContactTopic = "damaged"
) -> tuple[datetime, Filing | None]:
    delivered = order.deliver(world, order.ship(world), signed=False)
    return delivered, order.buyer_files_after_contact(world, delivered + timedelta(days=1), reason)


def seller_accepts(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order)
    accept = _call(
        "seller", "response", {"order_id": order.order_id, "response": {"action": "accept"}}, 8
    )
    expected = granted("seller", "decision.seller_accepted")
    return _case(order, Scenario.SELLER_ACCEPTS, expected, filing, on_action_required=(accept,))


def refunds_when_claimed(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order)
    refund = {"action": "refund", "amount": order.money(order.total)}
    call = _call("seller", "response", {"order_id": order.order_id, "response": refund}, 5)
    expected = Expected("refunded_by_seller", "seller", True, "response.refunded_by_seller")
    return _case(order, Scenario.REFUNDS_WHEN_CLAIMED, expected, filing, on_action_required=(call,))


def refund_seen_on_order(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order, "defective")
    fact = Fact(timedelta(hours=12), order.refunded)
    expected = Expected("refunded_by_seller", "seller", True, "response.refund_seen_on_order")
    return _case(order, Scenario.REFUND_SEEN_ON_ORDER, expected, filing, on_action_required=(fact,))


def replacement_delivered(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order, "defective")
    if filing is None:
        return None
    tracking = order.tracking_id("R")
    response = {
        "action": "replacement_sent",
        "carrier": order.carrier,
        "tracking_id": tracking,
        "estimated_delivery": (filing.at + timedelta(days=8)).isoformat(),
    }

    def delivered(at: datetime) -> OrderDelivered:
        return OrderDelivered(
            **order.ids,
            shipment_id=f"{order.order_id}-s2",
            delivered_at=at,
            carrier=order.carrier,
            tracking_id=tracking,
        )

    body = {"order_id": order.order_id, "response": response}
    reactions: tuple[Reaction, ...] = (
        # Decided when the carrier delivers it, days later: the response itself decides nothing.
        _call("seller", "response", body, 10, decides=False),
        Fact(timedelta(hours=58), delivered),
    )
    expected = Expected("replaced", "seller", True, "response.replacement_delivered")
    return _case(
        order, Scenario.REPLACEMENT_DELIVERED, expected, filing, on_action_required=reactions
    )


def reviewed(world: _Builder, order: _Order) -> Case | None:
    delivered, filing = _damaged_claim(world, order, "not_as_described")
    rng = world.rng
    roll = rng.random()
    appeal: Literal["upheld", "reversed"] | None = rng.choice((None, None, "upheld", "reversed"))
    if roll < 0.45:
        plan = ReviewPlan("granted", "seller", appeal)
        if appeal == "reversed":  # the platform takes the cost over, the ODR is spared
            expected = granted("platform", "appeal.reversed", counts=False)
        elif appeal == "upheld":
            expected = granted("seller", "appeal.upheld")
        else:
            expected = granted("seller", "review.decided_by_reviewer")
    elif roll < 0.65:
        plan, expected = (
            ReviewPlan("granted", "platform"),
            granted("platform", "review.decided_by_reviewer"),
        )
    else:
        plan = ReviewPlan("denied", None, appeal)
        if appeal == "reversed":  # the reviewer grants it on appeal, the seller paying
            expected = granted("seller", "appeal.reversed")
        elif appeal == "upheld":
            expected = denied("reviewer_denied", "appeal.upheld")
        else:
            expected = denied("reviewer_denied", "review.decided_by_reviewer")
    return _case(
        order,
        Scenario.REVIEWED,
        expected,
        filing,
        review=plan,
        on_action_required=(_dispute(order, _message(delivered)),),
    )


def withdrawn(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order)
    call = _call("buyer", "withdrawal", {"order_id": order.order_id, "note": "It turned up."}, 6)
    expected = Expected("withdrawn", "none", False, "buyer.withdrew")
    return _case(order, Scenario.WITHDRAWN, expected, filing, on_action_required=(call,))


def not_covered(world: _Builder, order: _Order) -> Case | None:
    _, filing = _damaged_claim(world, order)
    expected = denied("not_covered", "scope.merchant_fulfilled_third_party_sold")
    return _case(order, Scenario.NOT_COVERED, expected, filing)


def filed_too_early(world: _Builder, order: _Order) -> Case | None:
    shipped = order.ship(world)
    order.deliver(world, shipped + timedelta(days=8), signed=True)  # slow, but it comes
    filing = order.buyer_files_after_contact(
        world, order.placed_at + timedelta(days=2), "not_received"
    )
    expected = denied("filed_too_early", "timing.not_received_after_estimated_delivery")
    return _case(order, Scenario.FILED_TOO_EARLY, expected, filing)


def contact_seller_first(world: _Builder, order: _Order) -> Case | None:
    delivered = order.deliver(world, order.ship(world), signed=False)
    filing_at = delivered + timedelta(days=2)
    filing = order.filing(filing_at, "damaged", contact=None) if world.fits(filing_at) else None
    expected = denied("contact_seller_first", "contact.seller_contacted_first")
    return _case(order, Scenario.CONTACT_SELLER_FIRST, expected, filing)


def chargeback_first(world: _Builder, order: _Order) -> Case | None:
    delivered, filing = _damaged_claim(world, order)
    if filing is None:
        return None
    world.at(delivered + timedelta(hours=12), order.chargeback(delivered, "service"))
    expected = denied("chargeback_already_filed", "scope.no_chargeback_filed")
    return _case(order, Scenario.CHARGEBACK_FIRST, expected, filing)


def over_order_total(world: _Builder, order: _Order) -> Case | None:
    delivered = order.deliver(world, order.ship(world), signed=False)
    filing = order.buyer_files_after_contact(
        world, delivered + timedelta(days=1), "damaged", amount=order.total + Decimal(50)
    )
    expected = denied("amount_over_order_total", "amount.within_order_total")
    return _case(order, Scenario.OVER_ORDER_TOTAL, expected, filing)


# --- the dishonest seller's stories (issue #10: trust only what can be verified) -------------
EVIDENCE_NOT_CORROBORATED: Final = "decision.evidence_not_corroborated"
TRACKING_IS_THE_ORDERS: Final = "evidence.tracking_is_the_orders"
SIGNATURE_AS_REPORTED: Final = "evidence.signature_as_reported"
PARTIAL_REFUND: Final = "response.partial_refund"
REPLACEMENT_LONGEST_DELIVERY: Final = timedelta(
    days=POLICY.guarantee.replacement_longest_delivery_days
)
"""Issue #10: a replacement's estimated delivery lies at most this long after the response."""
FAR_OUT: Final = timedelta(days=90)
"""How far out the dishonest seller promises a replacement, counted from the filing."""


def _invented_proof(
    world: _Builder, order: _Order, scenario: Scenario, *, invent: Literal["tracking", "signature"]
) -> Case | None:
    """The parcel went out tracked and the carrier delivered it, unsigned: below the signature
    threshold that is no fault, and no rule settles a not-received claim on it. The seller
    disputes with a signed proof of delivery the carrier's facts do not back: under a tracking
    id no carrier reported for the order, or with the real one and a signature the delivery
    never had. Nothing is taken on the seller's word, so no rule funds the claim: it goes to a
    reviewer with the discrepancy named. The reviewer, shown the forgery, grants the claim at
    the seller's cost (a day later, well within the review window); a third of these sellers
    appeal, and the appeal is upheld."""
    shipped = order.ship(world)
    delivered = order.deliver(world, shipped, signed=False)
    filing = order.buyer_files_after_contact(world, delivered + timedelta(days=1), "not_received")
    if order.total > SIGNATURE_THRESHOLD:
        return None  # above it, an unsigned delivery makes the seller pay without a review
    proof = {
        "kind": "proof_of_delivery",
        "carrier": order.carrier,
        "tracking_id": order.tracking_id("X") if invent == "tracking" else order.tracking_id(),
        "delivered_at": delivered.isoformat(),  # the carrier's own time, copied
        "signature_obtained": True,
    }
    discrepancy = TRACKING_IS_THE_ORDERS if invent == "tracking" else SIGNATURE_AS_REPORTED
    along = (EVIDENCE_NOT_CORROBORATED, discrepancy)
    appeal: Literal["upheld"] | None = world.rng.choice((None, None, "upheld"))
    if appeal == "upheld":
        expected = granted("seller", "appeal.upheld", along=(*along, "review.decided_by_reviewer"))
    else:
        expected = granted("seller", "review.decided_by_reviewer", along=along)
    return _case(
        order,
        scenario,
        expected,
        filing,
        review=ReviewPlan("granted", "seller", appeal),
        on_action_required=(_dispute(order, proof),),
    )


def invented_tracking(world: _Builder, order: _Order) -> Case | None:
    return _invented_proof(world, order, Scenario.INVENTED_TRACKING, invent="tracking")


def invented_signature(world: _Builder, order: _Order) -> Case | None:
    return _invented_proof(world, order, Scenario.INVENTED_SIGNATURE, invent="signature")


def _partial_refund(world: _Builder, order: _Order) -> tuple[Filing | None, Decimal, Call]:
    """A damaged item, and the seller's refund of 30 to 70% of the amount claimed (the whole
    order total) five hours after being asked. It closes nothing: the seller's 72 hours keep
    running for what is still owed."""
    _, filing = _damaged_claim(world, order)
    part = (order.total * world.rng.randint(30, 70) / 100).quantize(Decimal("0.01"))
    refund = {"action": "refund", "amount": order.money(part)}
    body = {"order_id": order.order_id, "response": refund}
    return filing, part, _call("seller", "response", body, 5, decides=False)


def partial_refund_then_silent(world: _Builder, order: _Order) -> Case | None:
    # Then nothing more: at the end of the 72 hours the seller's silence grants the rest of
    # the claim, at the seller's cost, and the order counts as a defect.
    filing, _, partial = _partial_refund(world, order)
    expected = granted("seller", "decision.silent_seller_pays", along=(PARTIAL_REFUND,))
    return _case(
        order,
        Scenario.PARTIAL_REFUND_THEN_SILENT,
        expected,
        filing,
        on_action_required=(partial,),
    )


def partial_refund_then_rest(world: _Builder, order: _Order) -> Case | None:
    # A day later, well inside the 72 hours, the seller refunds what is still owed: the
    # refunds now reach the amount claimed and the claim closes refunded by the seller.
    filing, part, partial = _partial_refund(world, order)
    rest = {"action": "refund", "amount": order.money(order.total - part)}
    rest_call = _call("seller", "response", {"order_id": order.order_id, "response": rest}, 30)
    expected = Expected(
        "refunded_by_seller", "seller", True, "response.refunded_by_seller", along=(PARTIAL_REFUND,)
    )
    return _case(
        order,
        Scenario.PARTIAL_REFUND_THEN_REST,
        expected,
        filing,
        on_action_required=(partial, rest_call),
    )


def far_out_replacement(world: _Builder, order: _Order) -> Case | None:
    """A defective item; the seller answers with a replacement due three months out, far past
    the 30 days a replacement may take. The platform refuses that response and the claim stays
    with the seller, its 72 hours running; the seller does nothing more, so the silence grants
    the claim at the seller's cost."""
    _, filing = _damaged_claim(world, order, "defective")
    if filing is None:
        return None
    response = {
        "action": "replacement_sent",
        "carrier": order.carrier,
        "tracking_id": order.tracking_id("R"),  # a new parcel, not the order's own
        "estimated_delivery": (filing.at + FAR_OUT).isoformat(),
    }
    body = {"order_id": order.order_id, "response": response}
    promise = _call(
        "seller",
        "response",
        body,
        10,
        decides=False,
        refused="replacement_estimate_out_of_bounds",
    )
    expected = granted("seller", "decision.silent_seller_pays")
    return _case(
        order, Scenario.FAR_OUT_REPLACEMENT, expected, filing, on_action_required=(promise,)
    )


def _filed_just_before_the_end(world: _Builder, order: _Order, days: float) -> Filing:
    """A claim filed ``days`` (at most 3.5) before the end, after a contact six days earlier.
    The order was placed 16+ days before the end and ships on time, so it was delivered by
    then (placed + 5.5 days at the latest)."""
    order.late = False
    delivered = order.deliver(world, order.ship(world), signed=False)
    filing_at = world.config.end - timedelta(days=days)
    contact_at = max(filing_at - timedelta(days=6), delivered + timedelta(hours=1))
    contact_id = order.contact(world, contact_at, "not_as_described")
    world.at(contact_at + timedelta(hours=4), order.reply(contact_id, contact_at, resolved=False))
    return order.filing(filing_at, "not_as_described", contact=(contact_id, contact_at))


def awaiting_seller(world: _Builder, order: _Order) -> Case | None:
    # Less than the 72-hour window before the end: the seller is still expected to answer.
    filing = _filed_just_before_the_end(world, order, 0.5 + world.rng.random() * 2)
    expected = still_open("action_required", "response.window_opened")
    return _case(order, Scenario.AWAITING_SELLER, expected, filing)


def awaiting_reviewer(world: _Builder, order: _Order) -> Case | None:
    filing = _filed_just_before_the_end(world, order, 2.5 + world.rng.random())
    delivered_note = _message(filing.at - timedelta(days=7))
    expected = still_open("under_review", "decision.needs_review")
    dispute = _dispute(order, delivered_note, hours=12)  # the sooner, the surer it is in the queue
    return _case(order, Scenario.AWAITING_REVIEWER, expected, filing, on_action_required=(dispute,))


_STORIES: Final[dict[Scenario, Story]] = {
    Scenario.SIGNED_PROOF_OF_DELIVERY: signed_proof_of_delivery,
    Scenario.SHIPPING_PROTECTION: shipping_protection,
    Scenario.NO_VALID_TRACKING: no_valid_tracking,
    Scenario.UNSIGNED_ABOVE_THRESHOLD: unsigned_above_threshold,
    Scenario.RETURNED_TO_SELLER: returned_to_seller,
    Scenario.RETURN_NOT_REFUNDED: return_not_refunded,
    Scenario.SILENT_SELLER: silent_seller,
    Scenario.SELLER_ACCEPTS: seller_accepts,
    Scenario.REFUNDS_WHEN_CLAIMED: refunds_when_claimed,
    Scenario.REFUND_SEEN_ON_ORDER: refund_seen_on_order,
    Scenario.REPLACEMENT_DELIVERED: replacement_delivered,
    Scenario.REVIEWED: reviewed,
    Scenario.WITHDRAWN: withdrawn,
    Scenario.NOT_COVERED: not_covered,
    Scenario.FILED_TOO_EARLY: filed_too_early,
    Scenario.CONTACT_SELLER_FIRST: contact_seller_first,
    Scenario.CHARGEBACK_FIRST: chargeback_first,
    Scenario.OVER_ORDER_TOTAL: over_order_total,
    Scenario.AWAITING_SELLER: awaiting_seller,
    Scenario.AWAITING_REVIEWER: awaiting_reviewer,
    Scenario.INVENTED_TRACKING: invented_tracking,
    Scenario.INVENTED_SIGNATURE: invented_signature,
    Scenario.PARTIAL_REFUND_THEN_SILENT: partial_refund_then_silent,
    Scenario.PARTIAL_REFUND_THEN_REST: partial_refund_then_rest,
    Scenario.FAR_OUT_REPLACEMENT: far_out_replacement,
    Scenario.ANSWERS_ON_THE_THIRD_DAY: answers_on_the_third_day,
}


def build_world(config: WorldConfig) -> World:
    """The whole marketplace of ``config``, every fact on its timeline, every claim planned."""
    return _Builder(config).run()
