"""Replicas come and go and a broker dies while a seeded simulation runs on three brokers: the
groups rebalance mid-burst, and still every claim ends as its story says, none is decided twice,
every ODR equals its recomputation from the topics, and nothing is left unread or unpublished."""

from __future__ import annotations

import pytest

from contracts.topics import CLAIMS_EVENTS
from tests.chaos import evidence
from tests.chaos.conftest import PUBLISHED
from tests.scale.conftest import SCALED, STEPS, ScaleRun

pytestmark = [pytest.mark.scale, pytest.mark.timeout(900)]


def test_every_step_happened_and_each_extra_replica_took_partitions(scale_run: ScaleRun) -> None:
    assert [step for step, _ in scale_run.steps] == [step for _, step in STEPS]
    # A replica that joined and got nothing would prove nothing about rebalancing.
    assert set(scale_run.joined) == set(SCALED)
    assert all(count > 0 for count in scale_run.joined.values()), scale_run.joined


def test_every_claim_ended_as_its_story_says(scale_run: ScaleRun) -> None:
    summary = scale_run.summary
    assert summary, "the simulation did not finish"
    assert summary["claims"] >= 15
    assert summary["abandoned"] == []
    assert summary["mismatches"] == []
    assert summary["matched"] == summary["claims"]
    assert scale_run.simulator_exit == 0


def test_no_claim_was_decided_twice_nor_an_event_id_reused(scale_run: ScaleRun) -> None:
    events = evidence.claim_events(scale_run.topics[CLAIMS_EVENTS.name])
    assert evidence.decided_twice(events) == {}
    assert evidence.forked_versions(events) == {}
    for topic in PUBLISHED:
        assert evidence.conflicting_ids(scale_run.topics[topic.name]) == {}, topic.name


def test_every_sellers_odr_equals_the_recomputation_from_the_topics(scale_run: ScaleRun) -> None:
    assert scale_run.odr_wrong == []
    assert scale_run.odr_compared == len(scale_run.summary["odr"]) >= 6


def test_consumers_caught_up_and_outboxes_empty_at_the_end(scale_run: ScaleRun) -> None:
    assert scale_run.drained_after_seconds is not None, scale_run.backlog
    assert not any(scale_run.backlog.values()), scale_run.backlog
