"""A local Kafka of three brokers: one quorum, replication factor 3, two replicas in sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.config import DevstackConfig, load_config
from devstack.errors import PrerequisiteError
from devstack.kafka import nodes, render_log4j2, render_server_properties
from tests.unit.devstack.test_devstack_kafka_config import PASSWORD, parse_properties


def _config(tmp_path: Path, **env: str) -> DevstackConfig:
    return load_config(
        {
            "DEVSTACK_HOME": str(tmp_path / "home"),
            "DEVSTACK_KAFKA_PORT": "29092",
            "DEVSTACK_KAFKA_CONTROLLER_PORT": "29093",
            "DEVSTACK_POSTGRES_PORT": "25433",
            **env,
        }
    )


@pytest.fixture
def cluster(tmp_path: Path) -> DevstackConfig:
    return _config(tmp_path, DEVSTACK_KAFKA_BROKERS="3")


def test_three_nodes_each_on_ports_and_files_of_their_own(cluster: DevstackConfig) -> None:
    found = nodes(cluster)
    assert [(n.node_id, n.port, n.controller_port) for n in found] == [
        (1, 29092, 29093),
        (2, 29192, 29193),
        (3, 29292, 29293),
    ]
    # The first keeps a single broker's files, so a one-broker devstack is unchanged.
    assert found[0].properties == cluster.kafka_properties
    assert found[0].data_dir == cluster.kafka_data_dir
    assert found[0].log == cluster.kafka_log
    assert len({n.folder for n in found}) == len({n.log for n in found}) == 3
    assert cluster.kafka_bootstrap_servers == "127.0.0.1:29092,127.0.0.1:29192,127.0.0.1:29292"


def test_every_node_knows_the_whole_quorum_and_listens_on_its_own_ports(
    cluster: DevstackConfig,
) -> None:
    for node in nodes(cluster):
        props = parse_properties(render_server_properties(cluster, PASSWORD, node))
        assert props["node.id"] == str(node.node_id)
        assert props["controller.quorum.voters"] == (
            "1@127.0.0.1:29093,2@127.0.0.1:29193,3@127.0.0.1:29293"
        )
        assert props["listeners"] == (
            f"CLIENT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
        )
        assert props["log.dirs"] == str(node.data_dir)
        assert str(node.log) in render_log4j2(cluster, node)


def test_three_brokers_replicate_every_topic_three_times_with_two_in_sync(
    cluster: DevstackConfig,
) -> None:
    props = parse_properties(render_server_properties(cluster, PASSWORD))
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "3", key
    for key in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "2", key


def test_the_count_started_with_is_kept_for_later_commands(tmp_path: Path) -> None:
    home = tmp_path / "home" / "kafka"
    home.mkdir(parents=True)
    (home / "brokers").write_text("3\n")
    assert _config(tmp_path).kafka_brokers == 3
    assert load_config({"DEVSTACK_HOME": str(tmp_path / "home")}, brokers=1).kafka_brokers == 1


@pytest.mark.parametrize("count", ["2", "0", "many"])
def test_a_cluster_of_another_size_is_refused_in_one_sentence(tmp_path: Path, count: str) -> None:
    with pytest.raises(PrerequisiteError, match="a local Kafka has 1 or 3"):
        _config(tmp_path, DEVSTACK_KAFKA_BROKERS=count)
