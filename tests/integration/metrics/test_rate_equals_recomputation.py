"""For random event sequences with duplicates and reorderings, the stored daily counts equal a
from-scratch recomputation from the events (a property test on the real database)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import PositiveMoney
from contracts.envelope import Payload, wrap
from contracts.orders import ChargebackFiled, FeedbackPosted, FeedbackRemoved
from metrics import handlers, odr, store
from metrics.odr import DayCounts
from servicekit import postgres
from servicekit.delivery import Delivered
from tests.support.clocks import WALL_CLOCK
from tests.unit.adjudication.builders import placed

pytestmark = pytest.mark.integration
DAY = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SETTINGS = odr.default_settings()


def _events(seed: int) -> list[Payload]:
    """A few orders of two sellers, each with some feedback and chargebacks."""
    rng = random.Random(seed)
    events: list[Payload] = []
    for index in range(6):
        order, seller = f"o-{seed}-{index}", f"s-{seed}-{index % 2}"
        when = DAY - timedelta(days=rng.randrange(0, 3))
        events.append(placed(order_id=order, seller_id=seller, placed_at=when,
                             fulfillment=rng.choice(["merchant", "platform"])))  # fmt: skip
        for number in range(rng.randrange(0, 3)):
            fid = f"fb-{index}-{number}"
            events.append(FeedbackPosted(order_id=order, seller_id=seller, feedback_id=fid,
                                         posted_at=when, rating=rng.randrange(1, 6)))  # fmt: skip
            if rng.random() < 0.4:
                events.append(FeedbackRemoved(order_id=order, seller_id=seller,
                                              feedback_id=fid, removed_at=when))  # fmt: skip
        if rng.random() < 0.3:
            events.append(ChargebackFiled(
                order_id=order, seller_id=seller, chargeback_id=f"cb-{index}", filed_at=when,
                kind=rng.choice(["service", "fraud"]),
                amount=PositiveMoney(amount=Decimal(5), currency="EUR")))  # fmt: skip
    return events


def _expected(events: list[Payload]) -> dict[tuple[str, str, date], DayCounts]:
    states: dict[str, odr.OrderDefects] = {}
    for event in events:
        states[event.order_id] = odr.apply(states.get(event.order_id), event)  # type: ignore[attr-defined, arg-type]
    found: dict[tuple[str, str, date], DayCounts] = {}
    for state in states.values():
        if state.known and state.channel and state.order_date:
            key = (state.seller_id, state.channel, state.order_date)
            found[key] = found.get(key, DayCounts()) + odr.contribution(state, SETTINGS)
    return found


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000),
       batch=st.integers(1, 7), duplicates=st.integers(0, 5))  # fmt: skip
async def test_stored_counts_equal_a_recomputation_whatever_the_order_and_duplicates(
    database_url: str, seed: int, shuffle_seed: int, batch: int, duplicates: int
) -> None:
    events = _events(seed)
    rng = random.Random(shuffle_seed)
    # Claims and feedback may arrive before their order, and retries repeat some events.
    delivered_events = events + rng.sample(events, min(duplicates, len(events)))
    rng.shuffle(delivered_events)
    pool = await postgres.create_pool(database_url)
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        await pool.execute("TRUNCATE order_defects, seller_days, seller_health, seller_history")
        for start in range(0, len(delivered_events), batch):
            chunk = [
                Delivered(topic="orders.v1", partition=0, offset=i, key=None, timestamp=DAY,
                          envelope=wrap(e, source="/t", subject="s", time=DAY))
                for i, e in enumerate(delivered_events[start:start + batch])
            ]  # fmt: skip
            async with pool.acquire() as conn, conn.transaction():
                await handlers.apply_batch(
                    conn, chunk, settings=SETTINGS, timekeeper=WALL_CLOCK, as_of=DAY.date()
                )
        rows = await pool.fetch("SELECT * FROM seller_days")
    finally:
        await pool.close()
    stored = {
        (r["seller_id"], r["channel"], r["day"]): DayCounts(
            r["orders"], r["defective"], r["claims"], r["negative_feedback"], r["chargebacks"])
        for r in rows if r["orders"] or r["defective"]
    }  # fmt: skip
    assert stored == _expected(delivered_events)
