"""The read API: a claim with its history, deadlines and available actions; a seller's queue
by tab; a buyer's claims; the reviewer queue.

Who reads what is decided on the token's role *and* subject: a seller reads the claims whose
``seller_id`` is their subject, a buyer those whose ``buyer_id`` is theirs, never across roles (a
buyer whose id happens to be a seller's reads nothing of that seller); reviewers, agents and
services read everything. Someone else's claim is a 404, as if it did not exist. Ids in the
path are :data:`contracts.base.Identifier` values and pages are bounded, so nothing a caller
types reaches PostgreSQL unchecked: a malformed one is a 422 naming the parameter. The models
below document the answers in the OpenAPI document; the routes write them with orjson,
unvalidated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from adjudication.lifecycle import Claim, available_actions
from contracts.base import Identifier
from contracts.claims import ClaimState, Discrepancy
from servicekit.auth import STAFF, Reader, Readers, reader_dependency
from servicekit.problems import problem_responses

Tab = Literal["action_required", "under_review", "option_to_appeal", "all"]

_TAB_FILTERS: dict[Tab, str] = {
    "action_required": "status = 'action_required'",
    "under_review": "status IN ('under_review', 'appealed')",
    # adjudication.claim.appeal_open, asked of the stored state (a filter that pages).
    "option_to_appeal": (
        "status = 'closed' AND funded_by = 'seller' AND resolution = 'granted'"
        " AND (claim->'state'->'deadlines'->>'appeal_by')::timestamptz >= $2"
    ),
    "all": "true",
}

ClaimId = Annotated[
    Identifier, Path(description="The claim's id, as intake returned it on filing.")
]
SellerId = Annotated[Identifier, Path(description="The seller's id.")]
BuyerId = Annotated[Identifier, Path(description="The buyer's id.")]


class Actions(BaseModel):
    """What each party may do now, by the rules and the claim's deadlines."""

    buyer: list[Literal["withdraw", "appeal"]]
    seller: list[Literal["refund", "replacement_sent", "accept", "dispute", "appeal"]]
    reviewer: list[Literal["decide", "rule_on_appeal"]]


class ClaimView(ClaimState):
    """A claim's state with what each party may do now."""

    actions: Actions
    discrepancies: list[Discrepancy] | None = Field(
        default=None,
        description="Under review only: where the seller's evidence failed the order's facts.",
    )


class HistoryEvent(BaseModel):
    """One event of a claim's history."""

    type: str = Field(description="The event's type, such as claim.filed.")
    at: datetime = Field(description="When the rules made it.")
    rules: list[str] = Field(description="The ids of the rules that made it.")
    stated_at: datetime | None = Field(
        default=None, description="When its sender said it happened, if that differs."
    )
    discrepancies: list[Discrepancy] | None = Field(
        default=None, description="On claim.under_review: what the reviewer must weigh."
    )
    command_type: str | None = Field(
        default=None, description="On claim.command_rejected: the command refused."
    )
    reason: str | None = Field(default=None, description="On claim.command_rejected: why.")
    detail: str | None = Field(default=None, description="On claim.command_rejected: a sentence.")


class ClaimDetail(ClaimView):
    """A claim, what each party may do now, and its history, oldest first."""

    history: list[HistoryEvent]


class ClaimList(BaseModel):
    claims: list[ClaimView]


class SellerQueue(ClaimList):
    tab: Tab


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


def _may_read(reader: Reader, claim: Claim) -> bool:
    """Staff read every claim; a seller or a buyer only those where they are that party."""
    if reader.role in STAFF:
        return True
    if reader.role == "seller":
        return claim.state.seller_id == reader.subject
    if reader.role == "buyer":
        return claim.state.buyer_id == reader.subject
    return False


def build_router(
    pool: Callable[[], asyncpg.Pool],
    readers: Readers,
    clock: Callable[[], Awaitable[datetime]],
) -> APIRouter:
    """Routes reading the service's own tables. ``clock`` is the service's "now" (the wall
    clock, or the event-time watermark), so the actions shown are the ones the rules allow."""
    # The reader is a dependency, so 401 comes before any 422 on the route's own parameters.
    router = APIRouter(prefix="/v1", tags=["claims"], responses=problem_responses(401))
    caller = Depends(reader_dependency(readers))

    @router.get(
        "/claims/{claim_id}",
        summary="A claim, its history and what each party may do",
        response_model=None,
        responses={200: {"model": ClaimDetail}, **problem_responses(404, 422)},
    )
    async def get_claim(claim_id: ClaimId, reader: Reader = caller) -> Response:
        async with pool().acquire() as conn:
            row = await conn.fetchrow("SELECT claim FROM claims WHERE claim_id = $1", claim_id)
            if row is None:
                raise HTTPException(404, "no such claim")
            claim = Claim.model_validate_json(row["claim"])
            if not _may_read(reader, claim):
                raise HTTPException(404, "no such claim")  # not 403: existence is not told
            history = await conn.fetch(
                "SELECT type, occurred_at, stated_at, event FROM claim_history WHERE claim_id = $1"
                " ORDER BY id",
                claim_id,
            )
        body = _view(claim, await clock())
        body["history"] = [_history_entry(h) for h in history]
        return _json(body)

    @router.get(
        "/sellers/{seller_id}/claims",
        summary="A seller's claim queue, by tab (that seller, or staff)",
        response_model=None,
        responses={200: {"model": SellerQueue}, **problem_responses(403, 422)},
    )
    async def seller_queue(
        seller_id: SellerId,
        reader: Reader = caller,
        tab: Annotated[Tab, Query(description="Which of the seller's claims.")] = "all",
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 50,
    ) -> Response:
        mine = reader.role == "seller" and reader.subject == seller_id
        if not (mine or reader.role in STAFF):
            raise HTTPException(403, "a seller sees only their own claims")
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

    @router.get(
        "/buyers/{buyer_id}/claims",
        summary="A buyer's claims, newest first (that buyer, or staff)",
        response_model=None,
        responses={200: {"model": ClaimList}, **problem_responses(403, 422)},
    )
    async def buyer_claims(buyer_id: BuyerId, reader: Reader = caller) -> Response:
        mine = reader.role == "buyer" and reader.subject == buyer_id
        if not (mine or reader.role in STAFF):
            raise HTTPException(403, "a buyer sees only their own claims")
        async with pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT claim FROM claims WHERE buyer_id = $1 ORDER BY updated_at DESC LIMIT 200",
                buyer_id,
            )
        now = await clock()
        return _json({"claims": [_view(Claim.model_validate_json(r["claim"]), now) for r in rows]})

    @router.get(
        "/review-queue",
        summary="Claims waiting for a reviewer, oldest first (staff only)",
        response_model=None,
        responses={200: {"model": ClaimList}, **problem_responses(403)},
    )
    async def review_queue(reader: Reader = caller) -> Response:
        if reader.role not in STAFF:
            raise HTTPException(403, "reviewers only")
        async with pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT claim FROM claims WHERE status IN"
                " ('under_review', 'appealed') ORDER BY updated_at LIMIT 200"
            )
        now = await clock()
        return _json({"claims": [_view(Claim.model_validate_json(r["claim"]), now) for r in rows]})

    return router
