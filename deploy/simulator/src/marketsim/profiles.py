"""Seller profiles: how a kind of seller ships, answers buyers and responds to claims.

A profile is only numbers and weights; :mod:`marketsim.world` draws each order's story from
them with a seeded random generator, so the same seed gives the same marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from marketsim.scenarios import Scenario


@dataclass(frozen=True, slots=True)
class SellerProfile:
    """What a kind of seller does. Probabilities are per order unless said otherwise."""

    name: str
    description: str
    orders_per_day: tuple[int, int]
    """Range of a seller's daily orders (drawn once per seller, then Poisson-like per day)."""
    price_range: tuple[Decimal, Decimal]
    platform_fulfilled_share: float = 0.0
    late_shipping_share: float = 0.05
    claim_share: float = 0.01
    """Share of orders that end in a claim; which story the claim tells comes from ``scenarios``."""
    scenarios: dict[Scenario, int] = field(default_factory=dict)
    """Weights of the claim stories this seller's orders run into."""
    negative_feedback_share: float = 0.003
    feedback_removed_share: float = 0.2
    """Of the negative feedback, the share later removed (it stops counting)."""
    service_chargeback_share: float = 0.001
    fraud_chargeback_share: float = 0.001
    settled_contact_share: float = 0.01
    """Buyers who write about a problem the seller settles in the conversation: no claim."""
    answers_buyers: bool = True
    """False: the seller never replies to a buyer's message (the platform then files)."""


PROFILES: Final[tuple[SellerProfile, ...]] = (
    SellerProfile(
        name="careful",
        description="ships on time with tracking, gets signatures, disputes with proof"
        " (now and then only on the third day)",
        orders_per_day=(4, 9),
        price_range=(Decimal("15.00"), Decimal("400.00")),
        late_shipping_share=0.01,
        claim_share=0.02,
        scenarios={
            Scenario.SIGNED_PROOF_OF_DELIVERY: 5,
            Scenario.ANSWERS_ON_THE_THIRD_DAY: 4,
            Scenario.SHIPPING_PROTECTION: 4,
            Scenario.SELLER_ACCEPTS: 1,
            Scenario.REPLACEMENT_DELIVERED: 2,
            Scenario.REVIEWED: 3,
            Scenario.WITHDRAWN: 1,
            Scenario.RETURNED_TO_SELLER: 1,
            Scenario.FILED_TOO_EARLY: 1,
        },
        negative_feedback_share=0.002,
    ),
    SellerProfile(
        name="late_shipper",
        description="ships late, often without tracking; loses not-received disputes",
        orders_per_day=(3, 7),
        price_range=(Decimal("10.00"), Decimal("150.00")),
        late_shipping_share=0.4,
        claim_share=0.03,
        scenarios={
            Scenario.NO_VALID_TRACKING: 6,
            Scenario.REVIEWED: 1,
            Scenario.CONTACT_SELLER_FIRST: 1,
            Scenario.CHARGEBACK_FIRST: 1,
            Scenario.SELLER_ACCEPTS: 1,
        },
        negative_feedback_share=0.01,
    ),
    SellerProfile(
        name="high_value_unsigned",
        description="sells expensive items and ships them without asking for a signature",
        orders_per_day=(2, 4),
        price_range=(Decimal("800.00"), Decimal("2200.00")),
        claim_share=0.035,
        scenarios={
            Scenario.UNSIGNED_ABOVE_THRESHOLD: 6,
            Scenario.SIGNED_PROOF_OF_DELIVERY: 1,
            Scenario.REVIEWED: 1,
            Scenario.OVER_ORDER_TOTAL: 1,
        },
    ),
    SellerProfile(
        name="unresponsive",
        description="never answers buyers: the platform files for them and silence pays",
        orders_per_day=(2, 6),
        price_range=(Decimal("10.00"), Decimal("300.00")),
        claim_share=0.02,
        scenarios={Scenario.SILENT_SELLER: 1},
        settled_contact_share=0.0,
        answers_buyers=False,
    ),
    SellerProfile(
        name="refund_happy",
        description="refunds whoever asks, often before a claim, sometimes after one",
        orders_per_day=(4, 8),
        price_range=(Decimal("8.00"), Decimal("120.00")),
        claim_share=0.02,
        scenarios={
            Scenario.REFUNDS_WHEN_CLAIMED: 3,
            Scenario.REFUND_SEEN_ON_ORDER: 2,
            Scenario.RETURN_NOT_REFUNDED: 1,
        },
        settled_contact_share=0.03,
    ),
    SellerProfile(
        name="platform_fulfilled",
        description="mostly ships through the platform's warehouses, outside the guarantee",
        orders_per_day=(6, 12),
        price_range=(Decimal("12.00"), Decimal("250.00")),
        platform_fulfilled_share=0.85,
        claim_share=0.02,
        scenarios={Scenario.NOT_COVERED: 4, Scenario.SIGNED_PROOF_OF_DELIVERY: 1},
        negative_feedback_share=0.002,
    ),
    SellerProfile(
        name="dishonest",
        description="invents proofs of delivery, refunds part of a claim, promises replacements"
        " months out: the platform believes only what the order facts back",
        orders_per_day=(3, 7),
        # Below the signature threshold: its parcels go out tracked and unsigned, and only a
        # forged proof could make a not-received claim look settled.
        price_range=(Decimal("20.00"), Decimal("600.00")),
        claim_share=0.025,
        scenarios={
            Scenario.INVENTED_TRACKING: 2,
            Scenario.INVENTED_SIGNATURE: 2,
            Scenario.PARTIAL_REFUND_THEN_SILENT: 2,
            Scenario.PARTIAL_REFUND_THEN_REST: 1,
            Scenario.FAR_OUT_REPLACEMENT: 2,
        },
        negative_feedback_share=0.008,
    ),
)
"""The seven kinds of seller the simulated marketplace is made of, in the order they are dealt."""
