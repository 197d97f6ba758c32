"""How a client reaches Kafka, and the one kind of producer the platform uses.

:class:`KafkaAccess` is where the brokers are and who the client is (a SASL/SCRAM principal of
:mod:`contracts.access`, over TLS in production): every aiokafka client of the platform is made
from its :meth:`~KafkaAccess.options`, so none can forget its credentials.

Every service carries its messages on one faststream :class:`~faststream.kafka.KafkaBroker`
made by :func:`service_broker`: its producer is idempotent with ``acks=all`` (a retried send never
duplicates, an acknowledged one is on every in-sync replica), it never creates topics (the
launcher does, as the admin principal), and it is built without connecting, so a composition root
can declare subscribers and publishers (and the AsyncAPI document) before anything runs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram512

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
    def servers(self) -> list[str]:
        """The bootstrap servers one by one: ``bootstrap_servers`` may list several,
        comma-separated (a cluster). faststream takes a string as a single host."""
        return [server.strip() for server in self.bootstrap_servers.split(",") if server.strip()]

    @property
    def protocol(self) -> SecurityProtocol:
        if self.security_protocol is not None:
            return self.security_protocol
        return "SASL_PLAINTEXT" if self.username else "PLAINTEXT"

    def options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        found: dict[str, Any] = {
            "bootstrap_servers": self.servers,
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

    def security(self) -> BaseSecurity | None:
        """The same access as faststream's security object (it also goes in the AsyncAPI)."""
        if self.protocol == "PLAINTEXT":
            return None
        if not self.username or self.password is None:
            raise ValueError(f"{self.protocol} needs a Kafka username and password")
        tls = self.protocol == "SASL_SSL"
        return SASLScram512(
            self.username,
            self.password,
            ssl_context=self.tls_context() if tls else None,
            use_ssl=tls,
        )

    def as_user(self, username: str, password: str) -> KafkaAccess:
        """The same brokers, as another principal."""
        return replace(self, username=username, password=password)


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock of every service)."""
    return datetime.now(UTC)


def service_broker(
    kafka: KafkaAccess,
    *,
    client_id: str,
    graceful_timeout: float = 20.0,
    linger_ms: int = 5,
    request_timeout_ms: int = 40_000,
    description: str | None = None,
    middlewares: Sequence[Any] = (),
) -> KafkaBroker:
    """The faststream broker of one service, not connected yet.

    ``graceful_timeout`` is how long stopping waits for the batch in flight; ``linger_ms`` a
    short wait that fills producer batches during a burst.
    """
    return KafkaBroker(
        kafka.servers,
        security=kafka.security(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        # Topics are created by the launcher as the admin principal; a service's principal
        # may not, and must not try.
        allow_auto_create_topics=False,
        graceful_timeout=graceful_timeout,
        description=description,
        middlewares=middlewares,
        logger=logging.getLogger(f"faststream.{client_id}"),
        # faststream's per-message "Received"/"Processed" lines are for debugging; the
        # service logs what it did with each batch itself.
        log_level=logging.DEBUG,
    )


async def settle(pending: Sequence[Awaitable[Any] | None]) -> None:
    """Await every delivery future; raise the first failure once all have finished. (None is a
    send already done: faststream's in-memory test broker delivers at once.)"""
    futures = [future for future in pending if future is not None]
    results = await asyncio.gather(*futures, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
