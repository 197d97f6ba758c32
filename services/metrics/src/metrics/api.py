"""The read API: a seller's health with its breakdown, its daily history, the sellers at risk,
every seller (for the operator's dashboard).

A seller reads only their own health (role and subject both: a buyer whose id is a seller's
reads nothing); reviewers, agents and services read everyone's. The seller id in the path is a
:data:`contracts.base.Identifier` and every page is bounded (``offset`` to :data:`MAX_OFFSET`,
a PostgreSQL ``integer``), so a malformed id or an overflowing number is a 422 naming the
parameter, never an error from the database. The models below document the answers in the
OpenAPI document; the routes write them with orjson, unvalidated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final

import asyncpg
import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from contracts.base import Identifier
from contracts.sellers import AccountStatus, SellerOdrChanged
from servicekit.auth import STAFF, Reader, Readers, reader_dependency
from servicekit.problems import problem_responses

MAX_LIMIT: Final = 500
MAX_OFFSET: Final = 2**31 - 1
"""The largest offset a page may start at: PostgreSQL's ``integer``, far past any seller count."""

SellerId = Annotated[Identifier, Path(description="The seller's id.")]
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="How many sellers to skip, in that order.")
]
_RATE = "The exact rate, defective orders / orders, as a decimal string."


class SellerHealth(SellerOdrChanged):
    """A seller's ODR over the window, by channel, with the outlook."""

    rate: str = Field(description=_RATE)


class SellerPage(BaseModel):
    sellers: list[SellerHealth]
    limit: int
    offset: int
    total: int = Field(description="Every seller with a health figure, on the same snapshot.")


class AtRiskPage(BaseModel):
    sellers: list[SellerHealth]
    limit: int
    offset: int


class HistoryDay(BaseModel):
    day: date
    orders: int
    defective: int
    rate: str = Field(description=_RATE)
    status: AccountStatus


class SellerHistory(BaseModel):
    seller_id: str
    days: list[HistoryDay] = Field(description="Newest first.")


def health_view(row: Any) -> dict[str, Any]:
    """A stored health row as the read API shows it (the write side stores it as JSON)."""
    health: dict[str, Any] = orjson.loads(row["health"])
    health["rate"] = str(Decimal(row["rate"]))
    return health


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def build_router(pool: Callable[[], asyncpg.Pool], readers: Readers) -> APIRouter:
    # The reader is a dependency, so 401 comes before any 422 on the route's own parameters.
    errors = problem_responses(401, 403, 422)
    router = APIRouter(prefix="/v1", tags=["health"], responses=errors)
    caller = Depends(reader_dependency(readers))

    def may_read(reader: Reader, seller_id: str | None = None) -> None:
        mine = reader.role == "seller" and reader.subject == seller_id
        if not (mine or reader.role in STAFF):
            raise HTTPException(403, "a seller reads only their own health")

    # The fixed paths come before "/sellers/{seller_id}/...": FastAPI matches in order.
    @router.get(
        "/sellers",
        summary="Every seller's health, worst rate first (staff only)",
        response_model=None,
        responses={200: {"model": SellerPage}},
    )
    async def sellers(
        reader: Reader = caller,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 100,
        offset: Offset = 0,
    ) -> Response:
        may_read(reader)
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

    @router.get(
        "/sellers/at-risk",
        summary="Sellers at or above the target, worst first (staff only)",
        response_model=None,
        responses={200: {"model": AtRiskPage}},
    )
    async def at_risk(
        reader: Reader = caller,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 50,
        offset: Offset = 0,
    ) -> Response:
        may_read(reader)
        rows = await pool().fetch(
            "SELECT seller_id, rate, status, health FROM seller_health"
            " WHERE status <> 'NORMAL' ORDER BY rate DESC, seller_id LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return _json(
            {"sellers": [health_view(row) for row in rows], "limit": limit, "offset": offset}
        )

    @router.get(
        "/sellers/{seller_id}/health",
        summary="A seller's ODR, breakdown and outlook (that seller, or staff)",
        response_model=None,
        responses={
            200: {"model": SellerHealth},
            **problem_responses(404, descriptions={404: "No orders seen for this seller."}),
        },
    )
    async def health(seller_id: SellerId, reader: Reader = caller) -> Response:
        may_read(reader, seller_id)
        row = await pool().fetchrow(
            "SELECT rate, health FROM seller_health WHERE seller_id = $1", seller_id
        )
        if row is None:
            raise HTTPException(404, "no orders seen for this seller")
        return _json(health_view(row))

    @router.get(
        "/sellers/{seller_id}/history",
        summary="A seller's daily ODR, newest first (that seller, or staff)",
        response_model=None,
        responses={200: {"model": SellerHistory}},
    )
    async def history(
        seller_id: SellerId,
        reader: Reader = caller,
        days: Annotated[int, Query(ge=1, le=365, description="How many days, at most.")] = 90,
    ) -> Response:
        may_read(reader, seller_id)
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
