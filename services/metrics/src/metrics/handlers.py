"""Handlers: fold a batch of order facts and claim events into per-order state and per-seller
daily counts, then recompute the touched sellers' health snapshots (the pure
:func:`metrics.odr.snapshot`), save those that differ from the stored ones and publish what
really changed.

Everything happens in the consumer's transaction (inbox included): a batch is applied once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Final

import asyncpg

from contracts import codec
from contracts.claims import ClaimEvent
from contracts.envelope import Payload, wrap
from contracts.orders import OrderFact
from contracts.sellers import SellerStatusChanged
from contracts.topics import SELLERS_HEALTH
from metrics import odr, store
from metrics.odr import DayCounts, OdrSettings
from servicekit.delivery import Delivered, RefusedMessage
from servicekit.eventtime import REASON_EVENT_TIME_OUT_OF_BOUNDS, Timekeeper
from servicekit.outbox import OutboxMessage, enqueue
from servicekit.polls import let_next_poll_in
from servicekit.tracing import OFF, Tracing

SOURCE: Final = "/atoz/metrics"
EVENT_NAMESPACE: Final = uuid.UUID("3d2b7c4e-5a1f-4e8b-9c6d-0f1e2a3b4c5d")
_MAX_LINKS: Final = 128
"""The SDK keeps at most 128 links a span (its default limit): more would be dropped anyway."""


async def apply_batch(
    conn: asyncpg.Connection,
    deliveries: Sequence[Delivered],
    *,
    settings: OdrSettings,
    timekeeper: Timekeeper | None,
    as_of: date | None = None,
    tracing: Tracing = OFF,
    caches: store.Caches | None = None,
) -> int:
    """Apply order facts and claim events; recompute the health of every seller touched (in a
    span, see :func:`_health_parent`); the number of health snapshots that changed (and were
    saved).

    A message whose time the service cannot believe (:mod:`servicekit.eventtime`: after the
    wall clock, or on event time too far ahead of the newest accepted) is refused to the DLQ,
    so it can neither carry ``as_of`` years ahead nor overflow a window. ``timekeeper`` None
    says the times were judged already (a rebuild replaying what the live service applied)."""
    relevant = [d for d in deliveries if isinstance(d.envelope.data, OrderFact | ClaimEvent)]
    if not relevant:
        return 0
    newest = await store.watermark(conn)
    for delivered in relevant:
        stated = delivered.envelope.time
        refusal = timekeeper.refusal(stated, newest) if timekeeper else None
        if refusal is not None:
            raise RefusedMessage(REASON_EVENT_TIME_OUT_OF_BOUNDS, refusal)
        newest = max(newest or stated, stated)
    # Most facts (shipped, delivered, messages) are adjudication's; their orders stay as stored.
    changing = [d.envelope.data for d in relevant if odr.can_change(d.envelope.data)]
    stored = await store.load_orders(conn, (event.order_id for event in changing), caches)
    states = {order_id: entry.state for order_id, entry in stored.items()}
    for event in changing:
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
    let_next_poll_in()  # from here PostgreSQL's work dominates: the next poll decodes meanwhile
    await store.save_orders(conn, saved, caches)
    sellers = {entry.state.seller_id for entry in saved if entry.state.seller_id}
    # The sellers' locks before their rows: replicas applying batches of other partitions
    # touch the same sellers, and must take turns per seller (in one order: no deadlock).
    await store.lock_sellers(conn, sellers)
    await store.add_to_days(conn, deltas)
    assert newest is not None  # noqa: S101  # the batch is not empty
    parent = _health_parent(relevant)
    # Linked to every other message's span, so each trace finds the update it fed.
    links = [d.traceparent for d in relevant if d.traceparent != parent] if tracing.enabled else []
    with tracing.span(
        "update seller health",
        parent=parent,
        links=links[:_MAX_LINKS],
        attributes={"atoz.sellers": len(sellers), "atoz.messages": len(relevant)},
    ) as traced:
        changed = await refresh_health(
            conn,
            sellers,
            as_of=as_of or newest.date(),
            settings=settings,
            cause=relevant[-1].envelope.id,
            traceparent=traced.traceparent,
            caches=caches,
        )
    newest_read: dict[tuple[str, int], datetime] = {}
    for delivered in relevant:
        at, where = delivered.envelope.time, (delivered.topic, delivered.partition)
        newest_read[where] = max(newest_read.get(where, at), at)
    await store.advance_watermark(conn, newest_read)
    return changed


def _health_parent(relevant: Sequence[Delivered]) -> str | None:
    """The health update's parent: the batch's last claim event (the rare message a trace is
    usually followed for), else its last message."""
    for delivered in reversed(relevant):
        if isinstance(delivered.envelope.data, ClaimEvent) and delivered.traceparent:
            return delivered.traceparent
    return relevant[-1].traceparent


async def refresh_new_day(
    conn: asyncpg.Connection,
    today: Callable[[asyncpg.Connection], Awaitable[date]],
    *,
    last: date | None,
    settings: OdrSettings,
    tracing: Tracing = OFF,
    caches: store.Caches | None = None,
) -> date:
    """At a new day, recompute every seller's health (orders leave the window, or enter it past
    the lag, even when nothing else happens; ``as_of`` moves on); the day it is. "Today" is read
    under the health lock, so a batch that moved the day on meanwhile is seen, not overwritten
    with yesterday's window."""
    await store.lock_all_sellers(conn)
    current = await today(conn)
    if current != last:
        sellers = await store.all_sellers(conn, *odr.window(current, settings))
        with tracing.span("update seller health at a new day") as traced:
            await refresh_health(
                conn,
                sellers,
                as_of=current,
                settings=settings,
                cause=f"day/{current}",
                traceparent=traced.traceparent,
                caches=caches,
            )
    return current


async def refresh_health(
    conn: asyncpg.Connection,
    sellers: Iterable[str],
    *,
    as_of: date,
    settings: OdrSettings,
    cause: str,
    traceparent: str | None = None,
    caches: store.Caches | None = None,
) -> int:
    """Recompute each seller's health snapshot as of ``as_of`` (:func:`metrics.odr.snapshot`);
    save every one that differs from the stored snapshot in any figure, ``as_of`` included, with
    its day in the history; publish what :func:`metrics.odr.refresh` says is news. The number of
    snapshots saved."""
    sellers = sorted(set(sellers))
    if not sellers:
        return 0
    await store.lock_sellers(conn, sellers)  # held already when a batch calls: re-entrant
    first, last = odr.window(as_of, settings)
    days = await store.load_days(conn, sellers, first, last)
    stored = await store.load_health(conn, sellers, caches)
    snapshots, messages = [], []
    for seller in sellers:
        fresh = odr.snapshot(seller, days.get(seller, {}), as_of, settings)
        decision = odr.refresh(stored.get(seller), fresh)
        if not decision.save:
            continue
        combined = fresh.combined
        snapshots.append(fresh)
        outgoing: list[tuple[int, Payload]] = []
        if decision.odr_changed:
            outgoing.append((0, fresh))
        if decision.previous_status is not None:
            change = SellerStatusChanged(
                seller_id=seller,
                previous_status=decision.previous_status,
                status=fresh.status,
                rate=combined.rate,
                target=settings.target,
                as_of=fresh.window.as_of,
            )
            outgoing.append((1, change))
        for index, payload in outgoing:
            event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{cause}/{seller}/{index}/{as_of}"))
            envelope = wrap(
                payload,
                source=SOURCE,
                subject=seller,
                time=fresh.window.as_of,
                event_id=event_id,
                traceparent=traceparent,
            )
            messages.append(
                OutboxMessage.traced(
                    SELLERS_HEALTH.name,
                    codec.message_key(SELLERS_HEALTH, envelope),
                    codec.encode(envelope),
                    traceparent,
                )
            )
    await store.save_health(conn, snapshots, as_of, caches)
    await enqueue(conn, messages)
    return len(snapshots)
