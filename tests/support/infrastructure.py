"""Where the tests find a real Kafka and PostgreSQL, in order of preference.

1. ``PLATFORM_KAFKA_BOOTSTRAP_SERVERS`` and ``PLATFORM_POSTGRES_URL`` in the environment (any
   servers you already run; the README's test command sets them after starting the launcher),
   with ``PLATFORM_KAFKA_USERNAME`` / ``PLATFORM_KAFKA_PASSWORD`` (an admin: the tests create
   topics and principals) and ``PLATFORM_KAFKA_CREDENTIALS_FILE`` (the principals' passwords);
2. testcontainers, when a Docker engine answers (official ``apache/kafka`` and ``postgres``);
3. the project's own launcher (``deploy/local``): jars from Maven Central, Debian's PostgreSQL.

Whatever the source, the project's topics are created (idempotently, by the launcher's own
code) before tests run. A broker given without the principals' passwords gets fresh ones (the
tests set them as its admin), so point the tests at a broker of their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from contracts.access import ADMIN, ALL_NAMES
from contracts.topics import topics_to_create
from devstack import access
from devstack.kafka import ensure_topics as create_missing
from servicekit.kafka import KafkaAccess

ENV_KAFKA = "PLATFORM_KAFKA_BOOTSTRAP_SERVERS"
ENV_KAFKA_USERNAME = "PLATFORM_KAFKA_USERNAME"
ENV_KAFKA_PASSWORD = "PLATFORM_KAFKA_PASSWORD"  # the variable's name
ENV_KAFKA_CREDENTIALS = "PLATFORM_KAFKA_CREDENTIALS_FILE"
ENV_POSTGRES = "PLATFORM_POSTGRES_URL"
KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:15"
DOCKER_KAFKA = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "kafka"


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """The servers the tests use (Kafka as its admin), every Kafka principal's password, and
    where the servers came from."""

    kafka: KafkaAccess
    postgres_url: str
    source: str
    kafka_passwords: dict[str, str] = field(default_factory=dict, repr=False)

    def kafka_as(self, principal: str) -> KafkaAccess:
        """The broker, as one of the principals of ``contracts.access``."""
        return self.kafka.as_user(principal, self.kafka_passwords[principal])


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

    # The official image run as docker compose runs it (deploy/docker/kafka): SASL/SCRAM on
    # every listener, the StandardAuthorizer; its external listener on the port Docker maps.
    passwords = {name: secrets.token_urlsafe(24) for name in ALL_NAMES}
    kafka = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, 29092)
        .with_volume_mapping(str(DOCKER_KAFKA), "/etc/atoz/kafka", "ro")
        .with_kwargs(entrypoint=["/bin/bash", "/etc/atoz/kafka/start.sh"])
        .with_env("KAFKA_ADMIN_PASSWORD", passwords[ADMIN])
        .with_env("KAFKA_INTERNAL_HOST", "localhost")
        .with_env("KAFKA_EXTERNAL_ADDRESS", "localhost:29092")
    )
    postgres = PostgresContainer(POSTGRES_IMAGE, username="atoz", password="atoz", driver=None)
    with kafka, postgres:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        access.apply("localhost:29092", passwords)
        yield Infrastructure(
            kafka=KafkaAccess("localhost:29092", ADMIN, passwords[ADMIN]),
            postgres_url=postgres.get_connection_url(),
            source="testcontainers",
            kafka_passwords=passwords,
        )


@contextlib.contextmanager
def _from_launcher() -> Iterator[Infrastructure]:
    from devstack import api  # noqa: PLC0415  # the launcher is only needed on this path

    config = api.load_config()
    was_running = api.status(config).all_up
    endpoints = api.start(config)
    try:
        yield Infrastructure(
            kafka=KafkaAccess(
                endpoints.kafka_bootstrap_servers, ADMIN, endpoints.kafka_passwords[ADMIN]
            ),
            postgres_url=endpoints.postgres_url,
            source="launcher",
            kafka_passwords=endpoints.kafka_passwords,
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
        yield _from_environment(kafka, postgres)
    elif docker_engine_answers():
        with _from_testcontainers() as found:
            yield found
    else:
        with _from_launcher() as found:
            yield found


def _from_environment(bootstrap_servers: str, postgres_url: str) -> Infrastructure:
    username = os.environ.get(ENV_KAFKA_USERNAME) or None
    admin = KafkaAccess(bootstrap_servers, username, os.environ.get(ENV_KAFKA_PASSWORD))
    credentials = os.environ.get(ENV_KAFKA_CREDENTIALS)
    if credentials:
        passwords = {str(k): str(v) for k, v in json.loads(Path(credentials).read_text()).items()}
    elif username:
        # A broker given with its admin only: its principals get passwords of this session.
        passwords = {name: secrets.token_urlsafe(24) for name in ALL_NAMES}
        passwords[ADMIN] = admin.password or ""
        access.apply(bootstrap_servers, passwords)
    else:
        passwords = {}  # a broker without authentication: the ACL tests cannot run
    return Infrastructure(admin, postgres_url, source="environment", kafka_passwords=passwords)


async def ensure_topics(kafka: KafkaAccess) -> None:
    """Create every topic of the contracts that does not exist yet, as the launcher does."""
    await create_missing(kafka.options(), topics_to_create())
