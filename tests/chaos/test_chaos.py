"""The platform heals by itself: while a seeded simulation runs, every service is SIGKILLed in
turn, the broker is stopped and killed, PostgreSQL is restarted (fast and immediate shutdown)
and poison lands on every consumed topic. Judged from the topics read from offset zero and the
APIs, nothing was lost, doubled or forked, and every fault was recovered from within seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.topics import CLAIMS_EVENTS
from tests.chaos import evidence
from tests.chaos.conftest import PUBLISHED, ROOT, ChaosRun, consumers_of
from tests.chaos.plan import SERVICES

pytestmark = pytest.mark.chaos

RECOVERY_BOUND_SECONDS = 10.0


def test_the_driver_broke_every_part_the_run_promises(chaos_run: ChaosRun) -> None:
    assert chaos_run.not_injected == []  # left out after a fault never recovered from
    kinds = [fault.kind for fault in chaos_run.faults]
    assert kinds.count("kill") >= 20
    assert {fault.target for fault in chaos_run.faults if fault.kind == "kill"} == set(SERVICES)
    for kind in ("broker_stop", "broker_kill", "postgres_fast", "postgres_immediate", "poison"):
        assert kind in kinds, kind
    # The outages were real: intake said so while the broker was away.
    broker = [f for f in chaos_run.faults if f.kind.startswith("broker")]
    assert all("intake" in fault.unready for fault in broker), broker


def test_every_claim_ended_as_its_story_says(chaos_run: ChaosRun) -> None:
    summary = chaos_run.summary
    assert summary, "the simulation was stopped: the platform did not recover from a fault"
    assert summary["claims"] >= 20
    assert summary["abandoned"] == []  # every call outlasted the faults
    assert summary["mismatches"] == []
    assert summary["matched"] == summary["claims"]
    assert chaos_run.simulator_exit == 0


def test_no_event_id_was_published_twice_with_different_content(chaos_run: ChaosRun) -> None:
    for topic in PUBLISHED:
        records = chaos_run.topics[topic.name]
        assert records, topic.name
        assert evidence.conflicting_ids(records) == {}, topic.name


def test_no_claim_was_decided_twice_nor_a_version_written_twice(chaos_run: ChaosRun) -> None:
    events = evidence.claim_events(chaos_run.topics[CLAIMS_EVENTS.name])
    assert len({event["data"]["claim_id"] for event in events}) >= 20
    assert evidence.decided_twice(events) == {}
    assert evidence.forked_versions(events) == {}


def test_every_sellers_odr_equals_the_recomputation_from_the_topics(chaos_run: ChaosRun) -> None:
    assert chaos_run.odr_wrong == []
    assert chaos_run.odr_compared == len(chaos_run.summary["odr"]) >= 6
    assert chaos_run.summary["odr_matches"] == len(chaos_run.summary["odr"])


def test_every_poison_message_is_in_the_dlq_of_each_of_its_consumers_with_its_reason(
    chaos_run: ChaosRun,
) -> None:
    assert {p.topic for p in chaos_run.poison} == {
        topic for topic in chaos_run.topics if ".dlq" not in topic and consumers_of(topic)
    }
    dead_letters = {name: found for name, found in chaos_run.topics.items() if ".dlq" in name}
    by_topic = {topic: consumers_of(topic) for topic in {p.topic for p in chaos_run.poison}}
    assert evidence.poison_missing(chaos_run.poison, dead_letters, by_topic) == []


def test_outboxes_empty_and_consumers_caught_up_soon_after_the_last_fault(
    chaos_run: ChaosRun,
) -> None:
    assert chaos_run.drained_after_seconds is not None, chaos_run.backlog
    assert not any(chaos_run.backlog.values()), chaos_run.backlog


def test_the_platform_was_ready_again_within_ten_seconds_of_every_fault(
    chaos_run: ChaosRun,
) -> None:
    slow = [
        fault
        for fault in chaos_run.faults
        if fault.recovery_seconds is None or fault.recovery_seconds >= RECOVERY_BOUND_SECONDS
    ]
    assert slow == []
    # An unreachable dependency makes a service unready, never "not alive": no restart loop.
    assert [fault for fault in chaos_run.faults if fault.not_alive] == []


def test_the_run_is_reported_in_artifacts(chaos_run: ChaosRun) -> None:
    written = json.loads(Path(ROOT / "artifacts" / "chaos.json").read_text())
    assert written == chaos_run.report
    assert len(written["faults"]) == len(chaos_run.faults)
    assert (ROOT / "artifacts" / "chaos.md").read_text().startswith("| fault | count |")
