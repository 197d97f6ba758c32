"""Metrics' read routes on a real, migrated PostgreSQL holding a few sellers' health, wired as
``metrics.app`` wires them (problem handlers, docs, the router) but on a pool of their own
instead of the consuming service's, so no Kafka is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
from fastapi import FastAPI

from contracts.examples import seller_payloads
from contracts.sellers import SellerOdrChanged
from metrics import store
from metrics.api import build_router
from servicekit import postgres
from servicekit.auth import Readers, TokenGrant, hash_token
from servicekit.problems import install_problem_handlers

AS_OF = date(2026, 5, 4)
# (seller, orders, defective): 3% (at risk), 1% (at risk) and 0.5%, on two days each.
SELLERS = [("seller-z", 100, 3), ("seller-acme", 200, 2), ("seller-b", 200, 1)]
READERS = {
    "service": ("service", "simulator"),
    "operator": ("operator", "operator-demo"),
    "seller": ("seller", "seller-acme"),
    "buyer_named_like_the_seller": ("buyer", "seller-acme"),
}


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{who}"} if who in READERS else {}


def _snapshot(seller: str, orders: int, defective: int) -> SellerOdrChanged:
    rate = Decimal(defective) / Decimal(orders)
    status = "AT_RISK" if rate >= Decimal("0.01") else "NORMAL"
    template = seller_payloads()[0]
    assert isinstance(template, SellerOdrChanged)
    combined = template.combined.model_copy(
        update={"orders": orders, "defective_orders": defective, "rate": rate}
    )
    return template.model_copy(update={"seller_id": seller, "status": status, "combined": combined})


def read_app(database_url: str) -> FastAPI:
    """The service's read routes and error handling as ``metrics.app`` wires them."""
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await postgres.create_pool(database_url)
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        async with pool.acquire() as conn:
            for day in (AS_OF - timedelta(days=1), AS_OF):
                await store.save_health(conn, [_snapshot(*seller) for seller in SELLERS], day)
        pools.append(pool)
        try:
            yield
        finally:
            await pool.close()

    readers = Readers(
        TokenGrant(sha256=hash_token(f"token-{who}"), role=role, subject=subject)  # type: ignore[arg-type]  # the roles above
        for who, (role, subject) in READERS.items()
    )
    app = FastAPI(title="A-to-z claims: metrics", version="1.0.0", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(build_router(lambda: pools[0], readers))
    return app
