"""Adjudication's read routes on a real, migrated PostgreSQL holding two claims, wired as
``adjudication.app`` wires them (problem handlers, docs, the router) but on a pool of their own
instead of the consuming service's, so no Kafka is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg
from fastapi import FastAPI

from adjudication import store
from adjudication.api import build_router
from adjudication.lifecycle import Claim
from contracts import codec
from contracts.claims import DisputeResponse, MessageEvidence
from contracts.envelope import Payload, wrap
from servicekit import postgres
from servicekit.auth import Readers, TokenGrant, hash_token
from servicekit.problems import install_problem_handlers
from tests.unit.adjudication.builders import (
    FILED,
    delivered,
    filing,
    order_facts,
    respond_with,
    run_command,
)

WAITING = "clm-1"
"""Admitted, waiting for seller-acme to answer buyer-42's claim."""
IN_REVIEW = "clm-2"
"""The same parties, another order: disputed with a message, so under review."""

# One token per kind of reader: staff, the seeded claims' seller and buyer, and one of each
# role whose subject is the other party's id (ids of different roles may coincide).
READERS = {
    "service": ("service", "simulator"),
    "operator": ("operator", "operator-demo"),
    "seller": ("seller", "seller-acme"),
    "buyer": ("buyer", "buyer-42"),
    "buyer_named_like_the_seller": ("buyer", "seller-acme"),
    "seller_named_like_the_buyer": ("seller", "buyer-42"),
}


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{who}"} if who in READERS else {}


def seeded() -> list[tuple[Claim, tuple[Payload, ...]]]:
    """The two claims, each with the events that made it."""
    filed = run_command(filing(), None, FILED)
    assert filed.claim is not None
    dispute = DisputeResponse(evidence=(MessageEvidence(sent_at=FILED, text="It was there."),))
    disputed = respond_with(filed.claim, dispute, FILED + timedelta(hours=1),
                            facts=order_facts(delivered()))  # fmt: skip
    assert disputed.claim is not None
    state = disputed.claim.state.model_copy(update={"claim_id": IN_REVIEW, "order_id": "114-2"})
    return [
        (filed.claim, filed.events),
        (disputed.claim.model_copy(update={"state": state}), filed.events + disputed.events),
    ]


async def _seed(conn: asyncpg.Connection) -> None:
    claims = seeded()
    await store.save_claims(conn, [claim for claim, _ in claims], FILED)
    entries = []
    for claim, events in claims:
        claim_id = claim.state.claim_id
        for event in events:
            envelope = wrap(event, source="/tests", subject=claim_id, time=FILED)
            entries.append(store.HistoryEntry(claim_id, envelope.id, event.type, FILED, None,
                                              codec.encode(envelope)))  # fmt: skip
    await store.append_history(conn, entries)


def read_app(database_url: str) -> FastAPI:
    """The service's read routes and error handling as ``adjudication.app`` wires them, on a
    pool of their own instead of the consuming service's (no Kafka needed)."""
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await postgres.create_pool(database_url)
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn:
            await _seed(conn)
        pools.append(pool)
        try:
            yield
        finally:
            await pool.close()

    async def clock() -> datetime:
        return FILED

    readers = Readers(
        TokenGrant(sha256=hash_token(f"token-{who}"), role=role, subject=subject)  # type: ignore[arg-type]  # the roles above
        for who, (role, subject) in READERS.items()
    )
    app = FastAPI(title="A-to-z claims: adjudication", version="1.0.0", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(build_router(lambda: pools[0], readers, clock))
    return app
