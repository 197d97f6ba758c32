"""The chaos suite's judgements catch what they name, on records made by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts.dlq import DeadLetter
from tests.chaos.evidence import (
    claim_events,
    conflicting_ids,
    decided_twice,
    forked_versions,
    poison_missing,
)


@dataclass(frozen=True)
class Rec:
    topic: str
    value: bytes | None
    offset: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _event(event_id: str, claim: str, version: int, kind: str = "claim.filed", **more: Any) -> Rec:
    envelope = {
        "id": event_id,
        "type": kind,
        "correlationid": "req-1",
        "data": {"claim_id": claim, "claim": {"version": version}, **more},
    }
    return Rec("claims.events.v1", json.dumps(envelope).encode())


def test_a_redelivered_event_is_not_a_conflict_but_the_same_id_with_other_content_is() -> None:
    same = _event("e1", "c1", 1)
    assert conflicting_ids([same, same]) == {}
    assert conflicting_ids([same, _event("e1", "c1", 2)]) == {"e1": 2}


def test_two_sends_of_one_command_may_differ_only_in_their_correlation_id() -> None:
    first = {"id": "cmd-1", "type": "claim.file", "correlationid": "req-1", "data": {"a": 1}}
    retry = first | {"correlationid": "req-2"}
    records = [Rec("claims.commands.v1", json.dumps(e).encode()) for e in (first, retry)]
    assert conflicting_ids(records) == {}


def test_poison_is_left_to_its_own_judgement() -> None:
    assert conflicting_ids([Rec("claims.events.v1", b"\xff not json")]) == {}
    assert claim_events([Rec("claims.events.v1", b"{}")]) == []


def test_a_claim_decided_by_two_events_is_caught_and_a_redelivery_is_not() -> None:
    decided = _event("e2", "c1", 2, "claim.decided")
    events = claim_events([_event("e1", "c1", 1), decided, decided])
    assert decided_twice(events) == {}
    events = claim_events([_event("e1", "c1", 1), decided, _event("e3", "c1", 3, "claim.denied")])
    assert decided_twice(events) == {"c1": ["e2", "e3"]}


def test_a_version_written_by_two_events_or_a_gap_is_a_fork() -> None:
    good = claim_events([_event("e1", "c1", 1), _event("e2", "c1", 2)])
    assert forked_versions(good) == {}
    forked = claim_events([_event("e1", "c1", 1), _event("e2", "c1", 1)])
    assert forked_versions(forked) == {"c1": [1, 1]}
    gapped = claim_events([_event("e1", "c2", 1), _event("e3", "c2", 3)])
    assert forked_versions(gapped) == {"c2": [1, 3]}


@dataclass(frozen=True)
class Sent:
    topic: str
    value: bytes
    reason: str


def _letter(value: bytes, consumer: str, reason: str) -> Rec:
    letter = DeadLetter(
        reason, "bad", "orders.v1", 0, 7, datetime(2026, 1, 1, tzinfo=UTC), consumer
    )
    return Rec("orders.v1.dlq", value, headers=letter.headers())


def test_poison_must_reach_the_dlq_of_every_consumer_of_its_topic_with_its_reason() -> None:
    sent = Sent("orders.v1", b"\xff", "not_json")
    consumers = {"orders.v1": ["adjudication", "metrics"]}
    both = {"orders.v1.dlq": [_letter(b"\xff", "adjudication", "not_json"),
                              _letter(b"\xff", "metrics", "not_json")]}  # fmt: skip
    assert poison_missing([sent], both, consumers) == []
    one = {"orders.v1.dlq": [_letter(b"\xff", "adjudication", "not_json")]}
    assert len(poison_missing([sent], one, consumers)) == 1
    wrong_reason = {"orders.v1.dlq": [_letter(b"\xff", "adjudication", "contract_violation"),
                                      _letter(b"\xff", "metrics", "not_json")]}  # fmt: skip
    assert "adjudication" in poison_missing([sent], wrong_reason, consumers)[0]
