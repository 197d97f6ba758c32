"""Order facts published by order systems on ``orders.v1`` (keyed by order id).

Every fact names its order and seller, so a consumer can attribute it even when it arrives
before ``order.placed`` (topics give no order across partitions, and order systems retry).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, StrictBool, model_validator

from contracts.base import (
    SCHEMA_VERSION_1,
    Contract,
    Identifier,
    LanguageTag,
    Money,
    NoControlCharacters,
    PositiveMoney,
    ShortText,
    Timestamp,
)
from contracts.envelope import Envelope, Payload

Fulfillment = Literal["merchant", "platform"]
"""Who ships: the seller itself (``merchant``) or the platform's warehouses (``platform``)."""

SoldBy = Literal["third_party", "platform"]
ItemKind = Literal["physical", "digital", "gift_card"]
# Codes copied into labels, carrier APIs and URLs: no control character, not even a newline.
Carrier = Annotated[str, Field(min_length=1, max_length=64), NoControlCharacters()]
TrackingId = Annotated[str, Field(min_length=1, max_length=64), NoControlCharacters()]


class OrderItem(Contract):
    sku: Identifier
    title: Annotated[
        str,
        Field(min_length=1, max_length=500),
        NoControlCharacters(keep_tabs_and_line_breaks=True),
    ]
    quantity: Annotated[int, Strict(), Field(ge=1, le=10_000)]
    unit_price: Money
    kind: ItemKind = "physical"


class OrderFact(Payload):
    """Fields every order fact carries."""

    order_id: Identifier
    seller_id: Identifier


class OrderPlaced(OrderFact):
    type: Literal["order.placed"] = "order.placed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    buyer_id: Identifier
    marketplace_id: Identifier
    placed_at: Timestamp
    fulfillment: Fulfillment
    sold_by: SoldBy
    items: Annotated[tuple[OrderItem, ...], Field(min_length=1, max_length=500)]
    shipping: Money
    total: Money = Field(description="Items plus shipping: the most a claim can ask for.")
    ship_by: Timestamp = Field(description="Latest ship date promised to the buyer.")
    estimated_delivery_min: Timestamp
    estimated_delivery_max: Timestamp
    buyer_language: LanguageTag | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OrderPlaced:
        currencies = {self.total.currency, self.shipping.currency}
        currencies |= {item.unit_price.currency for item in self.items}
        if len(currencies) != 1:
            raise ValueError(f"an order uses one currency, got {sorted(currencies)}")
        if self.estimated_delivery_max < self.estimated_delivery_min:
            raise ValueError("estimated_delivery_max is before estimated_delivery_min")
        return self


class OrderShipped(OrderFact):
    type: Literal["order.shipped"] = "order.shipped"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    shipment_id: Identifier
    shipped_at: Timestamp
    carrier: Carrier
    tracking_id: TrackingId | None = None
    label_bought_through_platform: StrictBool = False


class OrderDelivered(OrderFact):
    type: Literal["order.delivered"] = "order.delivered"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    shipment_id: Identifier
    delivered_at: Timestamp
    carrier: Carrier
    tracking_id: TrackingId | None = None
    to_buyer_address: StrictBool = True
    signature_obtained: StrictBool = False
    id_checked: StrictBool = False


class OrderDeliveryFailed(OrderFact):
    type: Literal["order.delivery_failed"] = "order.delivery_failed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    shipment_id: Identifier
    failed_at: Timestamp
    failure: Literal["refused", "undeliverable", "lost"]
    returning_to_seller: StrictBool


class OrderRefunded(OrderFact):
    type: Literal["order.refunded"] = "order.refunded"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    refund_id: Identifier
    refunded_at: Timestamp
    amount: PositiveMoney
    initiated_by: Literal["seller", "platform"]


class ReturnShipped(OrderFact):
    type: Literal["return.shipped"] = "return.shipped"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    return_id: Identifier
    shipped_at: Timestamp
    carrier: Carrier
    tracking_id: TrackingId | None = None


class ReturnDelivered(OrderFact):
    type: Literal["return.delivered"] = "return.delivered"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    return_id: Identifier
    delivered_at: Timestamp = Field(description="When the return reached the seller.")


ClaimReason = Literal[
    "not_received", "damaged", "defective", "not_as_described", "return_not_refunded"
]
"""What a buyer can file a claim for (declared here, beside what a buyer writes to a seller
about, which is one of them or something else; :mod:`contracts.claims` uses it)."""

ContactTopic = Literal[ClaimReason, "other"]


class BuyerContactedSeller(OrderFact):
    type: Literal["buyer.contacted_seller"] = "buyer.contacted_seller"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    contact_id: Identifier
    buyer_id: Identifier
    contacted_at: Timestamp
    topic: ContactTopic
    message: ShortText | None = None


class SellerReplied(OrderFact):
    type: Literal["seller.replied"] = "seller.replied"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    contact_id: Identifier
    replied_at: Timestamp
    resolved: StrictBool = Field(
        default=False, description="The seller says the reply settles the buyer's problem."
    )
    message: ShortText | None = None


class FeedbackPosted(OrderFact):
    type: Literal["feedback.posted"] = "feedback.posted"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    feedback_id: Identifier
    posted_at: Timestamp
    rating: Annotated[int, Strict(), Field(ge=1, le=5)]
    comment: ShortText | None = None


class FeedbackRemoved(OrderFact):
    type: Literal["feedback.removed"] = "feedback.removed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    feedback_id: Identifier
    removed_at: Timestamp


class ChargebackFiled(OrderFact):
    type: Literal["chargeback.filed"] = "chargeback.filed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    chargeback_id: Identifier
    filed_at: Timestamp
    kind: Literal["service", "fraud"] = Field(
        description="service: the buyer disputes the order; "
        "fraud: the card was used without consent."
    )
    amount: PositiveMoney


OrderEvent = Annotated[
    OrderPlaced
    | OrderShipped
    | OrderDelivered
    | OrderDeliveryFailed
    | OrderRefunded
    | ReturnShipped
    | ReturnDelivered
    | BuyerContactedSeller
    | SellerReplied
    | FeedbackPosted
    | FeedbackRemoved
    | ChargebackFiled,
    Field(discriminator="type"),
]
"""Any fact on ``orders.v1``, told apart by its ``type``."""

OrderEnvelope = Envelope[OrderEvent]
