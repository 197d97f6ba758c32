"""Rendering of the broker's configuration files and parsing of tool output."""

from __future__ import annotations

import base64
import re
import string
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from devstack.config import DevstackConfig, load_config
from devstack.jars import unwanted_jars
from devstack.kafka import (
    is_cluster_id,
    new_cluster_id,
    parse_java_major,
    render_log4j2,
    render_server_properties,
)
from devstack.postgres import parse_major, render_settings

PASSWORD = "s3cret-pass_word"


@pytest.fixture
def config(tmp_path: Path) -> DevstackConfig:
    return load_config(
        {
            "DEVSTACK_HOME": str(tmp_path / "home"),
            "DEVSTACK_KAFKA_PORT": "29092",
            "DEVSTACK_KAFKA_CONTROLLER_PORT": "29093",
            "DEVSTACK_POSTGRES_PORT": "25433",
        }
    )


def parse_properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {line.partition("=")[0]: line.partition("=")[2] for line in lines}


def test_server_properties_describe_one_combined_node_on_loopback(config: DevstackConfig) -> None:
    props = parse_properties(render_server_properties(config, PASSWORD))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "CLIENT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:29092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "CLIENT"
    assert props["log.dirs"] == str(config.kafka_data_dir)
    assert "controller.quorum.bootstrap.servers" not in props


def test_no_listener_takes_an_anonymous_client(config: DevstackConfig) -> None:
    props = parse_properties(render_server_properties(config, PASSWORD))

    protocols = {pair.split(":")[1] for pair in props["listener.security.protocol.map"].split(",")}
    assert protocols == {"SASL_PLAINTEXT"}
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    # The controller listener knows the admin alone.
    jaas = props["listener.name.controller.plain.sasl.jaas.config"]
    assert re.findall(r"user_(\w+)=", jaas) == ["admin"]


def test_the_authorizer_allows_nothing_without_an_acl_but_to_the_admin(
    config: DevstackConfig,
) -> None:
    props = parse_properties(render_server_properties(config, PASSWORD))

    assert props["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"


def test_server_properties_are_tuned_for_a_single_broker(config: DevstackConfig) -> None:
    props = parse_properties(render_server_properties(config, PASSWORD))

    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "offsets.topic.num.partitions",
        "transaction.state.log.num.partitions",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_backslashes_in_paths_are_escaped(tmp_path: Path) -> None:
    config = load_config({"DEVSTACK_HOME": str(tmp_path / "odd\\name")})

    props = parse_properties(render_server_properties(config, PASSWORD))

    assert props["log.dirs"] == str(config.kafka_data_dir).replace("\\", "\\\\")


def test_log4j2_config_is_xml_writing_to_the_kafka_log(config: DevstackConfig) -> None:
    root = ET.fromstring(render_log4j2(config))  # noqa: S314 - our own text

    appender = root.find("./Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName") == str(config.kafka_log)
    assert root.find("./Loggers/Root") is not None


def test_cluster_id_is_22_url_safe_base64_characters_of_16_bytes() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()

        assert len(cluster_id) == 22
        assert set(cluster_id) <= set(string.ascii_letters + string.digits + "-_")
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
        assert is_cluster_id(cluster_id)


def test_cluster_ids_are_random() -> None:
    assert len({new_cluster_id() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "text", ["", "short", "MkU3OEVBNTcwNTJENDM2Q", "MkU3OEVBNTcwNTJENDM2Q+", "a" * 23]
)
def test_malformed_cluster_ids_are_rejected(text: str) -> None:
    assert not is_cluster_id(text)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
        ("no version here", None),
    ],
)
def test_java_major_version_is_parsed(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_postgres_major_version_is_parsed() -> None:
    assert parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == 15
    assert parse_major("something else") is None


def test_postgres_settings_listen_on_loopback_with_safe_defaults(config: DevstackConfig) -> None:
    settings = render_settings(config)

    assert "listen_addresses = '127.0.0.1'" in settings
    assert "port = 25433" in settings
    assert f"unix_socket_directories = '{config.postgres_socket_dir}'" in settings
    assert "shared_buffers = 128MB" in settings
    assert "max_connections = 200" in settings
    assert "synchronous_commit = on" in settings
    assert "fsync" not in settings


def test_synchronous_commit_off_is_opt_in(tmp_path: Path) -> None:
    config = load_config(
        {"DEVSTACK_HOME": str(tmp_path), "DEVSTACK_POSTGRES_SYNCHRONOUS_COMMIT": "off"}
    )

    assert "synchronous_commit = off" in render_settings(config)


def test_kafka_tools_and_connect_jars_are_flagged() -> None:
    names = [
        "kafka_2.13-4.1.1.jar",
        "kafka-tools-api-4.1.1.jar",
        "kafka-tools-4.1.1.jar",
        "connect-runtime-4.1.1.jar",
        "log4j-core-2.24.3.jar",
    ]

    assert unwanted_jars(names) == ["connect-runtime-4.1.1.jar", "kafka-tools-4.1.1.jar"]
