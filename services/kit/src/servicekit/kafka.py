"""How a client reaches Kafka, and the one kind of producer the platform uses.

:class:`KafkaAccess` is where the brokers are and who the client is (a SASL/SCRAM principal of
:mod:`contracts.access`, over TLS in production): every aiokafka client of the platform is made
from its :meth:`~KafkaAccess.options`, so none can forget its credentials.

The producer is idempotent with ``acks=all``: a retried send never duplicates and an
acknowledged one is on every in-sync replica. aiokafka binds a producer to the loop it is created
in, so these are made inside the running loop, never at import time.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from contracts.access import SASL_MECHANISM

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """The brokers and the principal a client connects as.

    ``security_protocol`` None means SASL over plain TCP when a username is given (the local
    launcher), PLAINTEXT otherwise (a broker without authentication). Production sets
    ``SASL_SSL`` and, for a private CA, ``ca_file``.
    """

    bootstrap_servers: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_protocol: SecurityProtocol | None = None
    ca_file: str | None = None

    @property
    def protocol(self) -> SecurityProtocol:
        if self.security_protocol is not None:
            return self.security_protocol
        return "SASL_PLAINTEXT" if self.username else "PLAINTEXT"

    def options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        found: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.protocol,
        }
        if self.protocol != "PLAINTEXT":
            if not self.username or self.password is None:
                raise ValueError(f"{self.protocol} needs a Kafka username and password")
            found |= {
                "sasl_mechanism": SASL_MECHANISM,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.protocol == "SASL_SSL":
            found["ssl_context"] = self.tls_context()
        return found

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of a SASL_SSL connection: the system's CAs, or ``ca_file``."""
        context: ssl.SSLContext = create_ssl_context(cafile=self.ca_file)
        return context

    def as_user(self, username: str, password: str) -> KafkaAccess:
        """The same brokers, as another principal."""
        return replace(self, username=username, password=password)


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock of every service)."""
    return datetime.now(UTC)


def idempotent_producer(kafka: KafkaAccess, *, client_id: str, **options: Any) -> AIOKafkaProducer:
    """A producer with idempotence on and ``acks=all`` (other aiokafka options pass through)."""
    return AIOKafkaProducer(
        **kafka.options(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        **options,
    )


async def started(producer: AIOKafkaProducer) -> AIOKafkaProducer:
    """Start ``producer``; if it cannot start, release what it opened and raise."""
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


async def stop_quietly(producer: AIOKafkaProducer | None) -> None:
    """Stop ``producer`` (flushing what is in flight), ignoring a broker already gone."""
    if producer is not None:
        with contextlib.suppress(KafkaError, OSError):
            await producer.stop()
