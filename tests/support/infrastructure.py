"""Where the tests find a real Kafka and PostgreSQL, in order of preference.

1. ``PLATFORM_KAFKA_BOOTSTRAP_SERVERS`` and ``PLATFORM_POSTGRES_URL`` in the environment (any
   servers you already run; the README's test command sets them after starting the launcher);
2. testcontainers, when a Docker engine answers (official ``apache/kafka`` and ``postgres``);
3. the project's own launcher (``deploy/local``): jars from Maven Central, Debian's PostgreSQL.

Whatever the source, the project's topics are created (idempotently, by the launcher's own
code) before tests run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from contracts.topics import topics_to_create
from devstack.kafka import ensure_topics as create_missing

ENV_KAFKA = "PLATFORM_KAFKA_BOOTSTRAP_SERVERS"
ENV_POSTGRES = "PLATFORM_POSTGRES_URL"
KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:15"


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Addresses of the servers the tests use, and where they came from."""

    kafka_bootstrap_servers: str
    postgres_url: str
    source: str


def docker_engine_answers() -> bool:
    """True when a Docker engine (not only the client) answers a ping."""
    try:
        import docker  # noqa: PLC0415  # only imported when looking for an engine

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # no engine, no socket, no permission: all mean "no Docker"
        return False


@contextlib.contextmanager
def _from_testcontainers() -> Iterator[Infrastructure]:
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    from testcontainers.core.waiting_utils import wait_for_logs  # noqa: PLC0415
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415

    # The official image is configured like Kafka's own docker examples: one KRaft node whose
    # client listener is advertised on the port Docker maps to the host.
    kafka = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, 29092)
    kafka_env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://localhost:29092",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    for key, value in kafka_env.items():
        kafka = kafka.with_env(key, value)
    postgres = PostgresContainer(POSTGRES_IMAGE, username="atoz", password="atoz", driver=None)
    with kafka, postgres:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        yield Infrastructure(
            kafka_bootstrap_servers="localhost:29092",
            postgres_url=postgres.get_connection_url(),
            source="testcontainers",
        )


@contextlib.contextmanager
def _from_launcher() -> Iterator[Infrastructure]:
    from devstack import api  # noqa: PLC0415  # the launcher is only needed on this path

    config = api.load_config()
    was_running = api.status(config).all_up
    endpoints = api.start(config)
    try:
        yield Infrastructure(
            kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
            postgres_url=endpoints.postgres_url,
            source="launcher",
        )
    finally:
        # Leave servers we found running as they were: they belong to whoever started them.
        if not was_running:
            api.stop(config)


@contextlib.contextmanager
def provide() -> Iterator[Infrastructure]:
    """Yield servers for a test session, started here only when nothing was given."""
    kafka, postgres = os.environ.get(ENV_KAFKA), os.environ.get(ENV_POSTGRES)
    if kafka and postgres:
        yield Infrastructure(kafka, postgres, source="environment")
    elif docker_engine_answers():
        with _from_testcontainers() as found:
            yield found
    else:
        with _from_launcher() as found:
            yield found


async def ensure_topics(bootstrap_servers: str) -> None:
    """Create every topic of the contracts that does not exist yet, as the launcher does."""
    await create_missing(bootstrap_servers, topics_to_create())
