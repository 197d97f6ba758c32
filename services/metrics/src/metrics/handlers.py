"""Handlers: fold a batch of order facts and claim events into per-order state and per-seller
daily counts, then recompute the touched sellers' health and publish what really changed.

Everything happens in the consumer's transaction (inbox included): a batch is applied once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Final

import asyncpg
import orjson

from contracts import codec
from contracts.claims import ClaimEvent
from contracts.envelope import Payload, wrap
from contracts.orders import OrderFact
from contracts.sellers import (
    AccountStatus,
    Channel,
    DefectCounts,
    OdrWindow,
    SellerOdrChanged,
    SellerStatusChanged,
)
from contracts.topics import SELLERS_HEALTH
from metrics import odr, store
from metrics.odr import DayCounts, OdrSettings
from servicekit.consumer import Delivered
from servicekit.outbox import OutboxMessage, enqueue

SOURCE: Final = "/atoz/metrics"
EVENT_NAMESPACE: Final = uuid.UUID("3d2b7c4e-5a1f-4e8b-9c6d-0f1e2a3b4c5d")
CHANNELS: Final[tuple[odr.Channel, ...]] = ("seller_fulfilled", "platform_fulfilled")


async def apply_batch(
    conn: asyncpg.Connection,
    deliveries: Sequence[Delivered],
    *,
    settings: OdrSettings,
    as_of: date | None = None,
) -> None:
    """Apply order facts and claim events; recompute the health of every seller touched."""
    relevant = [d for d in deliveries if isinstance(d.envelope.data, OrderFact | ClaimEvent)]
    if not relevant:
        return
    stored = await store.load_orders(conn, (d.envelope.data.order_id for d in relevant))
    states = {order_id: entry.state for order_id, entry in stored.items()}
    for delivered in relevant:
        event = delivered.envelope.data
        seller = event.claim.seller_id if isinstance(event, ClaimEvent) else None
        states[event.order_id] = odr.apply(states.get(event.order_id), event, seller)
    deltas: dict[store.DayKey, DayCounts] = {}
    saved = []
    for order_id, state in states.items():
        now_counted = odr.contribution(state, settings) if state.known else None
        old = stored.get(order_id)
        previous = old.counted if old else None
        if state.known and state.channel is not None and state.order_date is not None:
            key = (state.seller_id, state.channel, state.order_date)
            delta = (now_counted or DayCounts()) - (previous or DayCounts())
            deltas[key] = deltas.get(key, DayCounts()) + delta
        saved.append(store.Stored(state, now_counted))
    await store.save_orders(conn, saved)
    await store.add_to_days(conn, deltas)
    latest = max(d.envelope.time for d in relevant)
    watermark = await store.advance_watermark(conn, latest)
    sellers = {entry.state.seller_id for entry in saved if entry.state.seller_id}
    await refresh_health(
        conn,
        sellers,
        as_of=as_of or watermark.date(),
        settings=settings,
        cause=relevant[-1].envelope.id,
    )


async def refresh_new_day(
    conn: asyncpg.Connection,
    today: Callable[[asyncpg.Connection], Awaitable[date]],
    *,
    last: date | None,
    settings: OdrSettings,
) -> date:
    """At a new day, recompute every seller's health (orders leave the window even when nothing
    else happens); the day it is. "Today" is read under the health lock, so a batch that moved
    the day on meanwhile is seen, not overwritten with yesterday's window."""
    await store.lock_health(conn)
    current = await today(conn)
    if current != last:
        sellers = await store.all_sellers(conn)
        await refresh_health(
            conn, sellers, as_of=current, settings=settings, cause=f"day/{current}"
        )
    return current


def _counts(channel: Channel, counts: DayCounts) -> DefectCounts:
    return DefectCounts(
        channel=channel,
        orders=counts.orders,
        defective_orders=counts.defective,
        claims=counts.claims,
        negative_feedback=counts.negative_feedback,
        chargebacks=counts.chargebacks,
        rate=odr.rate(counts),
    )


async def refresh_health(
    conn: asyncpg.Connection,
    sellers: Iterable[str],
    *,
    as_of: date,
    settings: OdrSettings,
    cause: str,
) -> int:
    """Recompute each seller's health as of ``as_of``; publish the ones that changed."""
    sellers = sorted(set(sellers))
    if not sellers:
        return 0
    await store.lock_health(conn)
    first, last = odr.window(as_of, settings)
    days = await store.load_days(conn, sellers, first, last)
    previous = await store.load_health(conn, sellers)
    rows, messages = [], []
    for seller in sellers:
        by_channel = days.get(seller, {})
        per_channel = {
            c: odr.window_counts(by_channel.get(c, {}), as_of, settings) for c in CHANNELS
        }
        combined = per_channel["seller_fulfilled"] + per_channel["platform_fulfilled"]
        status = odr.status(combined, settings)
        before = previous.get(seller)
        if before is None and combined.orders == 0:
            continue  # a seller we know no order of yet (a claim came first): nothing to say
        figures = (combined.orders, combined.defective, status)
        if (
            before is not None
            and (before["orders"], before["defective"], before["status"]) == figures
        ):
            continue  # nothing really changed: no event, and no need to build one
        merged: dict[date, DayCounts] = {}
        for channel_days in by_channel.values():
            for day, counts in channel_days.items():
                merged[day] = merged.get(day, DayCounts()) + counts
        event = SellerOdrChanged(
            seller_id=seller,
            window=OdrWindow(
                as_of=datetime.combine(as_of, time(), tzinfo=UTC),
                first_order_date=first,
                last_order_date=last,
            ),
            combined=_counts("combined", combined),
            by_channel=tuple(_counts(c, per_channel[c]) for c in CHANNELS),
            status=status,
            target=settings.target,
            orders_to_recover=odr.orders_to_recover(combined, settings),
            projected_crossing=odr.projected_crossing(merged, as_of, settings),
        )
        rows.append(
            (
                seller,
                as_of,
                combined.orders,
                combined.defective,
                odr.rate(combined),
                status,
                event.model_dump_json(),
            )
        )
        outgoing: list[Payload] = [event]
        old_status: AccountStatus = before["status"] if before is not None else "NORMAL"
        if old_status != status:
            outgoing.append(
                SellerStatusChanged(
                    seller_id=seller,
                    previous_status=old_status,
                    status=status,
                    rate=odr.rate(combined),
                    target=settings.target,
                    as_of=event.window.as_of,
                )
            )
        for index, payload in enumerate(outgoing):
            event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{cause}/{seller}/{index}/{as_of}"))
            envelope = wrap(
                payload, source=SOURCE, subject=seller, time=event.window.as_of, event_id=event_id
            )
            messages.append(
                OutboxMessage(
                    SELLERS_HEALTH.name,
                    codec.message_key(SELLERS_HEALTH, envelope),
                    codec.encode(envelope),
                )
            )
    await store.save_health(conn, rows)
    await enqueue(conn, messages)
    return len(rows)


def health_view(row: Any) -> dict[str, Any]:
    """A stored health row as the read API shows it."""
    health: dict[str, Any] = orjson.loads(row["health"])
    health["rate"] = str(Decimal(row["rate"]))
    return health
