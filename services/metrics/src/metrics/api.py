"""The read API: a seller's health with its breakdown, its daily history, the sellers at risk,
every seller (for the operator's dashboard). A seller reads only their own health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from metrics.handlers import health_view
from servicekit.auth import Reader, Readers

STAFF = ("reviewer", "agent", "service")


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def build_router(pool: Callable[[], asyncpg.Pool], readers: Readers) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["health"])

    def reader_of(request: Request, seller_id: str | None = None) -> Reader:
        reader = readers.authenticate(request.headers.get("authorization"))
        if reader is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        mine = reader.role == "seller" and reader.subject == seller_id
        if not (mine or reader.role in STAFF):
            raise HTTPException(403, "a seller reads only their own health")
        return reader

    # The fixed paths come before "/sellers/{seller_id}/...": FastAPI matches in order.
    @router.get("/sellers", summary="Every seller's health, worst rate first (staff only)")
    async def sellers(
        request: Request,
        limit: int = Query(default=100, ge=1, le=500),
        offset: int = Query(default=0, ge=0),
    ) -> Response:
        reader_of(request)
        async with pool().acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot for the page and its total, so "offset + len < total" is exact.
            rows = await conn.fetch(
                "SELECT seller_id, rate, status, health FROM seller_health"
                " ORDER BY rate DESC, seller_id LIMIT $1 OFFSET $2",
                limit,
                offset,
            )
            total = await conn.fetchval("SELECT count(*) FROM seller_health")
        return _json(
            {
                "sellers": [health_view(row) for row in rows],
                "limit": limit,
                "offset": offset,
                "total": total,
            }
        )

    @router.get("/sellers/at-risk", summary="Sellers at or above the target, worst first")
    async def at_risk(
        request: Request,
        limit: int = Query(default=50, ge=1, le=500),
        offset: int = Query(default=0, ge=0),
    ) -> Response:
        reader_of(request)
        rows = await pool().fetch(
            "SELECT seller_id, rate, status, health FROM seller_health"
            " WHERE status <> 'NORMAL' ORDER BY rate DESC, seller_id LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return _json(
            {"sellers": [health_view(row) for row in rows], "limit": limit, "offset": offset}
        )

    @router.get("/sellers/{seller_id}/health", summary="A seller's ODR, breakdown and outlook")
    async def health(seller_id: str, request: Request) -> Response:
        reader_of(request, seller_id)
        row = await pool().fetchrow(
            "SELECT rate, health FROM seller_health WHERE seller_id = $1", seller_id
        )
        if row is None:
            raise HTTPException(404, "no orders seen for this seller")
        return _json(health_view(row))

    @router.get("/sellers/{seller_id}/history", summary="A seller's daily ODR, newest first")
    async def history(
        seller_id: str, request: Request, days: int = Query(default=90, ge=1, le=365)
    ) -> Response:
        reader_of(request, seller_id)
        rows = await pool().fetch(
            "SELECT day, orders, defective, rate, status FROM seller_history"
            " WHERE seller_id = $1 ORDER BY day DESC LIMIT $2",
            seller_id,
            days,
        )
        return _json(
            {
                "seller_id": seller_id,
                "days": [
                    {
                        "day": r["day"].isoformat(),
                        "orders": r["orders"],
                        "defective": r["defective"],
                        "rate": str(r["rate"]),
                        "status": r["status"],
                    }
                    for r in rows
                ],
            }
        )

    return router
