"""Benchmark: ``atoz-whatif``'s replay of N order facts and M claim commands under two policies
(issue #15: 1,000,000 facts and 10,000 commands in under 2 minutes on this machine).

The records are built in memory, as bytes on the wire (the mix of ``bench/order_facts.py``:
placed, shipped, delivered, messages, feedback, refunds), with claims filed after the seller
had time to answer the buyer's message, and seller refunds at random hours after filing (some
never), so a 48-hour candidate changes real outcomes. Timed, in one run:

- **ours**: what the tool does once it has read the topics: decode every record with the
  contracts and put them in event-time order (:func:`whatif.history.ordered`), then replay
  them under the default policy and a candidate with 48 hours to respond (both with the
  buyers filing themselves), and compare
  (:func:`whatif.compare.compare`);
- **baseline**: decoding the same records with the contracts and nothing else, the floor of
  any replay that believes only valid messages.

Reading the topics is left out (about 3 s for 960,000 records from the local broker).

    .venv/bin/python -m bench.whatif [--orders 312500] [--claim-every 31]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import report
from bench.order_facts import _facts_of, _when
from contracts import codec
from contracts.base import PositiveMoney
from contracts.claims import Actor, FileClaim, RefundResponse, RespondToClaim, SellerContact
from contracts.envelope import Payload, wrap
from contracts.orders import BuyerContactedSeller
from contracts.policy import load_policy, parse_policy
from contracts.topics import CLAIMS_COMMANDS, ORDERS
from servicekit.logging import configure_logging
from whatif.compare import compare
from whatif.history import Raw, ordered

Step = tuple[Payload, datetime]


def _claim_of(index: int, seller: str, start: datetime, rng: random.Random) -> list[Step]:
    """A buyer who wrote, waited, filed; the seller refunds 10 to 100 hours later (or never)."""
    order_id, buyer = f"wi-{index}", f"buyer-{index % 7919}"
    contacted = start + timedelta(minutes=index, days=6)
    filed = contacted + timedelta(days=5)
    contact = f"nr-{index}"
    steps: list[Step] = [
        (BuyerContactedSeller(order_id=order_id, seller_id=seller, contact_id=contact,
                              buyer_id=buyer, contacted_at=contacted, topic="not_received"),
         contacted),
        (FileClaim(claim_id=f"clm-{order_id}", order_id=order_id,
                   actor=Actor(role="buyer", subject=buyer), buyer_id=buyer,
                   reason="not_received",
                   amount=PositiveMoney(amount=Decimal("100.00"), currency="EUR"),
                   description="Never arrived.", filed_by="buyer",
                   contact=SellerContact(contact_id=contact, contacted_at=contacted)), filed),
    ]  # fmt: skip
    if rng.random() < 0.7:
        refund = RespondToClaim(
            claim_id=f"clm-{order_id}", order_id=order_id,
            actor=Actor(role="seller", subject=seller),
            response=RefundResponse(amount=PositiveMoney(amount=Decimal("100.00"),
                                                         currency="EUR")),
        )  # fmt: skip
        steps.append((refund, filed + timedelta(hours=rng.uniform(10, 100))))
    return steps


def records(orders: int, sellers: int, claim_every: int) -> Raw:
    """The wire bytes of ``orders`` orders' facts and their claims, as the topics hold them."""
    rng = random.Random(15)  # a benchmark's mix, not a secret
    start = datetime(2026, 1, 5, tzinfo=UTC)
    found: Raw = []
    for index in range(orders):
        seller = f"wi-seller-{index % sellers}"
        steps = [(fact, _when(fact)) for fact in _facts_of(index, seller, start, rng, "wi")
                 if not isinstance(fact, FileClaim)]  # fmt: skip
        if index % claim_every == 0:
            steps = [s for s in steps if not isinstance(s[0], BuyerContactedSeller)]
            steps += _claim_of(index, seller, start, rng)
        for payload, at in steps:
            topic = CLAIMS_COMMANDS if payload.type.startswith("claim.") else ORDERS
            envelope = wrap(payload, source="/bench", subject=payload.order_id, time=at)  # type: ignore[attr-defined]
            found.append((topic.name, 0, len(found), codec.encode(envelope)))
    return found


def _decode_only(raw: Raw) -> float:
    began = time.perf_counter()
    for topic, _, _, value in raw:
        codec.decode(topic, value or b"")
    return time.perf_counter() - began


def main(orders: int, sellers: int, claim_every: int) -> dict[str, Any]:
    configure_logging("console", "warning", service="bench-whatif")  # as atoz-whatif does
    raw = records(orders, sellers, claim_every)
    baseline, candidate = _policy("default-buyers-file", 72), _policy("respond-in-48h", 48)
    gc.disable()  # as atoz-whatif runs (see whatif.cli)
    decode_seconds = _decode_only(raw)
    began = time.perf_counter()
    history = ordered(raw)
    decoded = time.perf_counter()
    result = compare(history.inputs, baseline, candidate)
    ended = time.perf_counter()
    ours = ended - began
    return {
        "name": "whatif",
        "unit": "seconds",
        "date": datetime.now(UTC).date().isoformat(),
        "facts": history.facts,
        "commands": history.commands,
        "ours": round(ours, 1),
        "ours_decode_and_order": round(decoded - began, 1),
        "ours_two_replays_and_compare": round(ended - decoded, 1),
        "baseline": round(decode_seconds, 1),
        "ratio": round(decode_seconds / ours, 3),
        "goal_seconds": 120,
        "claims": result.claims_baseline,
        "changed_claims": len(result.changed),
        "sellers_changing_status": len(result.sellers),
    }


def _policy(name: str, hours: int) -> Any:
    """The default policy, the buyers filing themselves (the platform's own filing for an
    unanswered message would come first and take the buyer's place), ``hours`` to respond."""
    raw = json.loads(load_policy().model_dump_json())
    raw["name"] = name
    raw["guarantee"].update({"seller_response_hours": hours, "automatic_filing": False})
    return parse_policy(json.dumps(raw))


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=312_500, help="about 3.2 facts each")
    parser.add_argument("--sellers", type=int, default=500)
    parser.add_argument("--claim-every", type=int, default=31, help="one order in N claims")
    report.add_arguments(parser)
    args = parser.parse_args(argv)
    result = main(args.orders, args.sellers, args.claim_every)
    path = report.write(result, args)
    json.dump(result, sys.stdout, indent=2)
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
