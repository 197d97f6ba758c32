"""The read API: a claim with its history, deadlines and available actions; a seller's queue
by tab; a buyer's claims; the reviewer queue. A seller sees only their claims, a buyer theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from adjudication.lifecycle import Claim, available_actions
from servicekit.auth import Reader, Readers

Tab = Literal["action_required", "under_review", "option_to_appeal", "all"]

_TAB_FILTERS: dict[Tab, str] = {
    "action_required": "status = 'action_required'",
    "under_review": "status IN ('under_review', 'appealed')",
    "option_to_appeal": (
        "status = 'closed' AND funded_by = 'seller' AND resolution = 'granted'"
        " AND (claim->'state'->'deadlines'->>'appeal_by')::timestamptz >= $2"
    ),
    "all": "true",
}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _history_entry(row: Any) -> dict[str, Any]:
    """One event of the claim's history; a rejected command says why it changed nothing."""
    data = orjson.loads(row["event"])["data"]
    entry = {
        "type": row["type"],
        "at": row["occurred_at"].isoformat(),
        "rules": data.get("rules", []),
    }
    stated = row["stated_at"]
    if stated is not None and stated != row["occurred_at"]:
        entry["stated_at"] = stated.isoformat()  # when the sender said it happened
    if row["type"] == "claim.under_review":
        entry["discrepancies"] = data.get("discrepancies", [])
    if row["type"] == "claim.command_rejected":
        entry |= {key: data[key] for key in ("command_type", "reason", "detail") if key in data}
    return entry


def _view(claim: Claim, now: datetime) -> dict[str, Any]:
    state = claim.state.model_dump(mode="json")
    view = {**state, "actions": available_actions(claim, now)}
    if claim.state.status == "under_review":
        # What the reviewer must weigh: where the seller's evidence failed the facts.
        view["discrepancies"] = [d.model_dump(mode="json") for d in claim.discrepancies]
    return view


def build_router(
    pool: Callable[[], asyncpg.Pool],
    readers: Readers,
    clock: Callable[[], Awaitable[datetime]],
) -> APIRouter:
    """Routes reading the service's own tables. ``clock`` is the service's "now" (the wall
    clock, or the event-time watermark), so the actions shown are the ones the rules allow."""
    router = APIRouter(prefix="/v1", tags=["claims"])

    def reader_of(request: Request) -> Reader:
        reader = readers.authenticate(request.headers.get("authorization"))
        if reader is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return reader

    @router.get("/claims/{claim_id}", summary="A claim, its history and what each party may do")
    async def get_claim(claim_id: str, request: Request) -> Response:
        reader = reader_of(request)
        async with pool().acquire() as conn:
            row = await conn.fetchrow("SELECT claim FROM claims WHERE claim_id = $1", claim_id)
            if row is None:
                raise HTTPException(404, "no such claim")
            claim = Claim.model_validate_json(row["claim"])
            allowed = reader.role in ("reviewer", "agent", "service") or reader.subject in (
                claim.state.seller_id,
                claim.state.buyer_id,
            )
            if not allowed:
                raise HTTPException(404, "no such claim")  # not 403: existence is not told
            history = await conn.fetch(
                "SELECT type, occurred_at, stated_at, event FROM claim_history WHERE claim_id = $1"
                " ORDER BY id",
                claim_id,
            )
        body = _view(claim, await clock())
        body["history"] = [_history_entry(h) for h in history]
        return _json(body)

    @router.get("/sellers/{seller_id}/claims", summary="A seller's claim queue, by tab")
    async def seller_queue(
        seller_id: str,
        request: Request,
        tab: Tab = "all",
        limit: int = Query(default=50, ge=1, le=500),
    ) -> Response:
        reader = reader_of(request)
        if reader.role == "seller" and reader.subject != seller_id:
            raise HTTPException(403, "a seller sees only their own claims")
        if reader.role == "buyer":
            raise HTTPException(403, "buyers read their own claims")
        query = (
            f"SELECT claim FROM claims WHERE seller_id = $1 AND {_TAB_FILTERS[tab]}"  # noqa: S608  # the filter comes from a fixed table
            f" ORDER BY updated_at DESC LIMIT {limit}"
        )
        async with pool().acquire() as conn:
            args: list[Any] = [seller_id]
            if "$2" in query:
                args.append(await clock())
            rows = await conn.fetch(query, *args)
        now = await clock()
        return _json(
            {
                "tab": tab,
                "claims": [_view(Claim.model_validate_json(r["claim"]), now) for r in rows],
            }
        )

    @router.get("/buyers/{buyer_id}/claims", summary="A buyer's claims")
    async def buyer_claims(buyer_id: str, request: Request) -> Response:
        reader = reader_of(request)
        if reader.role in ("buyer", "seller") and reader.subject != buyer_id:
            raise HTTPException(403, "a buyer sees only their own claims")
        async with pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT claim FROM claims WHERE buyer_id = $1 ORDER BY updated_at DESC LIMIT 200",
                buyer_id,
            )
        now = await clock()
        return _json({"claims": [_view(Claim.model_validate_json(r["claim"]), now) for r in rows]})

    @router.get("/review-queue", summary="Claims waiting for a reviewer, oldest first")
    async def review_queue(request: Request) -> Response:
        reader = reader_of(request)
        if reader.role not in ("reviewer", "agent", "service"):
            raise HTTPException(403, "reviewers only")
        async with pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT claim FROM claims WHERE status IN"
                " ('under_review', 'appealed') ORDER BY updated_at LIMIT 200"
            )
        now = await clock()
        return _json({"claims": [_view(Claim.model_validate_json(r["claim"]), now) for r in rows]})

    return router
