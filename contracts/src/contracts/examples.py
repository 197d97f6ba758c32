"""One valid, realistic message of every type, per topic.

Order systems read these to see what a message looks like; the tests send every one of them
through a real broker and back. They are built from the models, so they can never drift from
the schemas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts import claims, orders, sellers
from contracts.base import Money, PositiveMoney
from contracts.envelope import Envelope, Payload, wrap
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, SELLERS_HEALTH

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ORDER_ID = "114-3941689-8772232"
SELLER_ID = "seller-acme"
BUYER_ID = "buyer-0042"
CLAIM_ID = "clm-7f3b2a"


def _eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def _positive_eur(amount: str) -> PositiveMoney:
    return PositiveMoney(amount=Decimal(amount), currency="EUR")


def order_payloads() -> list[orders.OrderFact]:
    """One payload of every ``orders.v1`` type, telling one order's story."""
    return [
        orders.OrderPlaced(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            buyer_id=BUYER_ID,
            marketplace_id="fr",
            placed_at=T0,
            fulfillment="merchant",
            sold_by="third_party",
            items=(
                orders.OrderItem(
                    sku="LAMP-01", title="Desk lamp", quantity=1, unit_price=_eur("45.90")
                ),
            ),
            shipping=_eur("4.10"),
            total=_eur("50.00"),
            ship_by=T0 + timedelta(days=2),
            estimated_delivery_min=T0 + timedelta(days=4),
            estimated_delivery_max=T0 + timedelta(days=7),
            buyer_language="fr",
        ),
        orders.OrderShipped(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            shipment_id="shp-1",
            shipped_at=T0 + timedelta(days=1),
            carrier="colissimo",
            tracking_id="6A12345678901",
            label_bought_through_platform=True,
        ),
        orders.OrderDelivered(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            shipment_id="shp-1",
            delivered_at=T0 + timedelta(days=5),
            carrier="colissimo",
            tracking_id="6A12345678901",
            signature_obtained=True,
        ),
        orders.OrderDeliveryFailed(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            shipment_id="shp-2",
            failed_at=T0 + timedelta(days=6),
            failure="refused",
            returning_to_seller=True,
        ),
        orders.OrderRefunded(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            refund_id="rfd-1",
            refunded_at=T0 + timedelta(days=9),
            amount=_positive_eur("50.00"),
            initiated_by="seller",
        ),
        orders.ReturnShipped(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            return_id="ret-1",
            shipped_at=T0 + timedelta(days=8),
            carrier="colissimo",
            tracking_id="6R0000000001",
        ),
        orders.ReturnDelivered(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            return_id="ret-1",
            delivered_at=T0 + timedelta(days=10),
        ),
        orders.BuyerContactedSeller(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            contact_id="msg-1",
            buyer_id=BUYER_ID,
            contacted_at=T0 + timedelta(days=8),
            topic="not_received",
            message="Où est mon colis ?",
        ),
        orders.SellerReplied(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            contact_id="msg-1",
            replied_at=T0 + timedelta(days=9),
            message="Nous regardons avec le transporteur.",
        ),
        orders.FeedbackPosted(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            feedback_id="fb-1",
            posted_at=T0 + timedelta(days=12),
            rating=1,
            comment="Jamais reçu.",
        ),
        orders.FeedbackRemoved(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            feedback_id="fb-1",
            removed_at=T0 + timedelta(days=13),
        ),
        orders.ChargebackFiled(
            order_id=ORDER_ID,
            seller_id=SELLER_ID,
            chargeback_id="cb-1",
            filed_at=T0 + timedelta(days=20),
            kind="service",
            amount=_positive_eur("50.00"),
        ),
    ]


def command_payloads() -> list[claims.ClaimCommand]:
    """One payload of every ``claims.commands.v1`` type."""
    buyer = claims.Actor(role="buyer", subject=BUYER_ID)
    seller = claims.Actor(role="seller", subject=SELLER_ID)
    reviewer = claims.Actor(role="reviewer", subject="rev-7")
    return [
        claims.FileClaim(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            actor=buyer,
            buyer_id=BUYER_ID,
            reason="not_received",
            amount=_positive_eur("50.00"),
            description="Colis jamais arrivé.",
            filed_by="buyer",
            contact=claims.SellerContact(contact_id="msg-1", contacted_at=T0 + timedelta(days=8)),
            language="fr",
        ),
        claims.WithdrawClaim(
            claim_id=CLAIM_ID, order_id=ORDER_ID, actor=buyer, note="Found it at a neighbour's."
        ),
        claims.RespondToClaim(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            actor=seller,
            response=claims.DisputeResponse(
                evidence=(
                    claims.ProofOfDelivery(
                        carrier="colissimo",
                        tracking_id="6A12345678901",
                        delivered_at=T0 + timedelta(days=5),
                        signature_obtained=True,
                    ),
                    claims.PlatformLabel(label_id="lbl-9", bought_at=T0 + timedelta(hours=20)),
                    claims.ShippedOnTime(
                        shipped_at=T0 + timedelta(days=1), ship_by=T0 + timedelta(days=2)
                    ),
                ),
                statement="Delivered and signed for.",
            ),
        ),
        claims.DecideClaim(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            actor=reviewer,
            decision=claims.ReviewDecision(
                outcome="granted", funded_by="platform", note="Signed proof of delivery."
            ),
        ),
        claims.AppealClaim(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            actor=seller,
            appeal_id="apl-1",
            statement="The buyer signed for the parcel.",
        ),
    ]


def _state(version: int, **changes: Any) -> claims.ClaimState:
    base: dict[str, Any] = {
        "claim_id": CLAIM_ID, "order_id": ORDER_ID, "seller_id": SELLER_ID, "buyer_id": BUYER_ID,
        "reason": "not_received", "amount": _positive_eur("50.00"), "filed_by": "buyer",
        "filed_at": T0 + timedelta(days=11), "status": "filed", "counts_toward_odr": True,
        "version": version,
    }  # fmt: skip
    return claims.ClaimState(**(base | changes))


def claim_event_payloads() -> list[Payload]:
    """One payload of every ``claims.events.v1`` type, following one claim's life."""
    respond_by = T0 + timedelta(days=14)
    deadlines = claims.ClaimDeadlines(respond_by=respond_by)
    granted = {"status": "closed", "resolution": "granted", "funded_by": "seller"}
    appeal_by = claims.ClaimDeadlines(appeal_by=T0 + timedelta(days=44))
    refund = claims.ClaimRefund(
        refund_id="rf-1",
        amount=_positive_eur("20.00"),
        refunded_by="seller",
        refunded_at=T0 + timedelta(days=12),
        source="order_fact",
    )
    return [
        claims.ClaimFiled(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(1),
            description="Colis jamais arrivé.",
            rules=("scope.merchant_fulfilled_third_party",),
        ),
        claims.ClaimDenied(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(2, status="closed", resolution="denied", counts_toward_odr=False),
            rules=("timing.not_received_after_estimated_delivery",),
            reason="filed_too_early",
            message=claims.BuyerMessage(language="fr", text="Trop tôt : attendez le 12 mars."),
        ),
        claims.ClaimActionRequired(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(2, status="action_required", deadlines=deadlines),
            respond_by=respond_by,
            rules=("response.window_opened",),
        ),
        claims.ClaimResponded(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(3, status="action_required", deadlines=deadlines),
            response=claims.AcceptResponse(),
        ),
        claims.ClaimUnderReview(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(
                4,
                status="under_review",
                deadlines=claims.ClaimDeadlines(review_by=T0 + timedelta(days=19)),
            ),
            rules=("decision.evidence_not_corroborated", "evidence.signature_as_reported"),
            discrepancies=(
                claims.Discrepancy(
                    rule="evidence.signature_as_reported",
                    evidence_index=0,
                    message="The carrier reports no signature for the parcel JD0141.",
                ),
            ),
        ),
        claims.ClaimRefundRecorded(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(4, status="action_required", deadlines=deadlines, refunds=(refund,)),
            rules=("response.partial_refund_seen_on_order",),
            refund=refund,
        ),
        claims.ClaimDecided(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(5, **granted, deadlines=appeal_by),
            outcome="granted",
            decided_by="rules",
            rules=("decision.silent_seller_pays",),
        ),
        claims.ClaimClosed(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(6, **granted, deadlines=appeal_by),
            resolution="granted",
        ),
        claims.ClaimAppealed(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(7, status="appealed", resolution="granted", funded_by="seller"),
            appeal_id="apl-1",
            appellant=claims.Actor(role="seller", subject=SELLER_ID),
        ),
        claims.ClaimAppealDecided(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            claim=_state(
                8,
                status="closed",
                resolution="granted",
                funded_by="platform",
                counts_toward_odr=False,
            ),
            appeal_id="apl-1",
            outcome="reversed",
            rules=("appeal.reversed_by_reviewer",),
        ),
        claims.ClaimCommandRejected(
            claim_id=CLAIM_ID,
            order_id=ORDER_ID,
            command_id="cmd-9",
            command_type="claim.respond",
            actor=claims.Actor(role="seller", subject="seller-other"),
            reason="not_your_claim",
            detail="This claim belongs to another seller.",
        ),
    ]


def seller_payloads() -> list[sellers.SellerEvent]:
    """One payload of every ``sellers.health.v1`` type."""
    counts = sellers.DefectCounts(
        channel="combined",
        orders=100,
        defective_orders=1,
        claims=1,
        negative_feedback=0,
        chargebacks=0,
        rate=Decimal("0.01"),
    )
    window = sellers.OdrWindow(
        as_of=T0 + timedelta(days=60),
        first_order_date=(T0 + timedelta(days=1)).date(),
        last_order_date=(T0 + timedelta(days=60)).date(),
    )
    return [
        sellers.SellerOdrChanged(
            seller_id=SELLER_ID,
            window=window,
            combined=counts,
            by_channel=(counts.model_copy(update={"channel": "seller_fulfilled"}),),
            status="AT_RISK",
            target=Decimal("0.01"),
            orders_to_recover=1,
        ),
        sellers.SellerStatusChanged(
            seller_id=SELLER_ID,
            previous_status="NORMAL",
            status="AT_RISK",
            rate=Decimal("0.01"),
            target=Decimal("0.01"),
            as_of=T0 + timedelta(days=60),
        ),
    ]


def examples() -> dict[str, list[Envelope[Any]]]:
    """Every example payload in its envelope, by topic name."""
    by_topic: dict[str, tuple[str, str, list[Any]]] = {
        ORDERS.name: ("/order-systems/demo", "order_id", list(order_payloads())),
        CLAIMS_COMMANDS.name: ("/atoz/intake", "claim_id", list(command_payloads())),
        CLAIMS_EVENTS.name: ("/atoz/adjudication", "claim_id", claim_event_payloads()),
        SELLERS_HEALTH.name: ("/atoz/metrics", "seller_id", list(seller_payloads())),
    }
    result: dict[str, list[Envelope[Any]]] = {}
    for topic, (source, subject_field, payloads) in by_topic.items():
        result[topic] = [
            wrap(
                payload,
                source=source,
                subject=getattr(payload, subject_field),
                time=T0 + timedelta(minutes=index),
                correlation_id="corr-demo-1",
            )
            for index, payload in enumerate(payloads)
        ]
    return result
