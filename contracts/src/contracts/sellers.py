"""Seller account health published by metrics on ``sellers.health.v1`` (keyed by seller id)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.base import SCHEMA_VERSION_1, Contract, Count, Identifier, Ratio, Timestamp
from contracts.envelope import Envelope, Payload

AccountStatus = Literal["NORMAL", "AT_RISK", "DEACTIVATION_RISK"]
Channel = Literal["seller_fulfilled", "platform_fulfilled", "combined"]


class DefectCounts(Contract):
    """One channel's figures over the window. ``rate`` is ``defective_orders / orders``."""

    channel: Channel
    orders: Count
    defective_orders: Count
    claims: Count = Field(description="Orders with a claim that counts.")
    negative_feedback: Count
    chargebacks: Count = Field(description="Service chargebacks only.")
    rate: Ratio

    @model_validator(mode="after")
    def _defects_within_orders(self) -> DefectCounts:
        if self.defective_orders > self.orders:
            raise ValueError("defective_orders cannot exceed orders")
        return self


class OdrWindow(Contract):
    as_of: Timestamp
    first_order_date: date
    last_order_date: date


class SellerEvent(Payload):
    seller_id: Identifier


class SellerOdrChanged(SellerEvent):
    type: Literal["seller.odr_changed"] = "seller.odr_changed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    window: OdrWindow
    combined: DefectCounts
    by_channel: tuple[DefectCounts, ...]
    status: AccountStatus
    target: Ratio = Field(description="The rate must stay strictly below this.")
    orders_to_recover: Count = Field(
        description="Defect-free orders needed to get back under the target (0 if under)."
    )
    projected_crossing: date | None = Field(
        default=None, description="When the rate crosses the target at the current pace, if ever."
    )


class SellerStatusChanged(SellerEvent):
    type: Literal["seller.status_changed"] = "seller.status_changed"
    schema_version: Literal[1] = SCHEMA_VERSION_1
    previous_status: AccountStatus
    status: AccountStatus
    rate: Ratio
    target: Ratio
    as_of: Timestamp


SellerHealthEvent = Annotated[SellerOdrChanged | SellerStatusChanged, Field(discriminator="type")]
"""Any event on ``sellers.health.v1``, told apart by its ``type``."""

SellerHealthEnvelope = Envelope[SellerHealthEvent]
