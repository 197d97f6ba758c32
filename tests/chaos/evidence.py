"""What a chaos run left on the topics, judged: pure functions over the records read from
offset zero, so each judgement is tested on records made by hand (tests/unit/chaos).

- No envelope id was published twice with different content (a redelivery is the same bytes;
  only the correlation id, which names the request, may differ between two sends of one
  command).
- No claim was decided twice, and no claim version was written by two different events.
- Every poison message reached the DLQ of every consumer of its topic, with its reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from contracts.dlq import DeadLetter

DECISIONS = frozenset({"claim.decided", "claim.denied"})
"""The event types that decide a claim (an appeal's ruling is an event of its own)."""
PER_REQUEST_FIELDS = frozenset({"correlationid"})


class Record(Protocol):
    """The parts of a Kafka record the judgements read (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class PoisonSent(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def value(self) -> bytes: ...
    @property
    def reason(self) -> str: ...


def _envelope(record: Record) -> dict[str, Any] | None:
    try:
        parsed = json.loads(record.value or b"")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and isinstance(parsed.get("id"), str) else None


def conflicting_ids(records: Iterable[Record]) -> dict[str, int]:
    """Envelope ids published with more than one content, with how many contents each had."""
    contents: dict[str, set[str]] = defaultdict(set)
    for record in records:
        envelope = _envelope(record)
        if envelope is None:
            continue  # poison: judged by poison_missing
        content = {k: v for k, v in envelope.items() if k not in PER_REQUEST_FIELDS}
        contents[envelope["id"]].add(json.dumps(content, sort_keys=True))
    return {event_id: len(found) for event_id, found in contents.items() if len(found) > 1}


def claim_events(records: Iterable[Record]) -> list[dict[str, Any]]:
    """The distinct claim events (first copy of each id), in the order given."""
    seen: set[str] = set()
    found = []
    for record in records:
        envelope = _envelope(record)
        if envelope is None or envelope["id"] in seen or "claim" not in envelope.get("data", {}):
            continue
        seen.add(envelope["id"])
        found.append(envelope)
    return found


def decided_twice(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Claims with more than one decision event (distinct ids), with those ids."""
    decisions: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event["type"] in DECISIONS:
            decisions[event["data"]["claim_id"]].append(event["id"])
    return {claim: ids for claim, ids in decisions.items() if len(ids) > 1}


def forked_versions(events: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Claims whose versions are not exactly 1, 2, 3... each written by one event."""
    versions: dict[str, list[int]] = defaultdict(list)
    for event in events:
        versions[event["data"]["claim_id"]].append(event["data"]["claim"]["version"])
    return {
        claim: found
        for claim, found in versions.items()
        if sorted(found) != list(range(1, len(found) + 1))
    }


def poison_missing(
    poison: Iterable[PoisonSent],
    dead_letters: Mapping[str, Sequence[Record]],
    consumers: Mapping[str, Sequence[str]],
) -> list[str]:
    """Each poison message not found in the DLQ of a consumer of its topic with its reason,
    said in a sentence. ``consumers`` maps a topic to the consumer names reading it;
    ``dead_letters`` maps a DLQ topic name to its records."""
    missing = []
    for sent in poison:
        letters = [
            DeadLetter.from_headers(list(record.headers))
            for record in dead_letters.get(sent.topic + ".dlq", ())
            if record.value == sent.value
        ]
        for consumer in consumers[sent.topic]:
            reasons = {letter.reason for letter in letters if letter.consumer == consumer}
            if sent.reason not in reasons:
                missing.append(
                    f"{sent.value!r} on {sent.topic}: {consumer} dead-lettered it with"
                    f" {sorted(reasons) or 'nothing'}, not {sent.reason}"
                )
    return missing
