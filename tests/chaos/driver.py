"""The chaos driver: breaks one part of a running platform at a time and times its recovery.

Each fault is injected while every service is ready. The broken part then comes back the way it
would in production: the supervisor restarts a killed service; the driver restarts the broker
or PostgreSQL as an orchestrator would. Recovery is the time from the part being back (for a
kill: from the kill) until every service answers ``/health/ready`` with 200 again and every
outbox has published what it held by then (ready alone could hide a stuck relay); meanwhile
the driver notes which services said they were not ready, and whether any liveness probe failed
(it must not: an outage of a dependency is not a wedged process).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from contracts.dlq import REASON_CONTRACT_VIOLATION, REASON_NOT_JSON
from contracts.topics import CLAIMS_COMMANDS, CLAIMS_EVENTS, ORDERS, Topic
from devstack import api, services
from devstack import kafka as kafka_server
from devstack import postgres as postgres_server
from devstack.config import HOST, DevstackConfig
from devstack.procs import port_accepts, send_signal, wait_for_exit
from servicekit.kafka import KafkaAccess
from tests.chaos.plan import Fault

CONSUMED: Final[tuple[Topic, ...]] = (ORDERS, CLAIMS_COMMANDS, CLAIMS_EVENTS)
"""Every topic a service consumes: each gets poison."""
RECOVERY_TIMEOUT_SECONDS: Final = 90.0
"""Beyond this the fault is recorded as never recovered (the run goes on, the test fails)."""
POLL_SECONDS: Final = 0.1


@dataclass
class FaultRecord:
    """What one fault did: when (seconds into the run), how long the part was down, and how
    long the platform took to be ready again (None: not within the timeout)."""

    kind: str
    target: str
    at: float
    outage_seconds: float | None = None
    recovery_seconds: float | None = None
    unready: list[str] = field(default_factory=list)
    not_alive: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Poison:
    """A message that breaks its topic's contract, and the DLQ reason it must get."""

    topic: str
    partition: int
    offset: int
    value: bytes
    reason: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"value": self.value.decode(errors="replace")}


class Probes:
    """Asks every process of the platform whether it is ready (and alive)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = urls
        self._http = httpx.AsyncClient(timeout=1.0)

    async def _status(self, url: str) -> int | None:
        try:
            return (await self._http.get(url)).status_code
        except httpx.HTTPError:
            return None  # not answering at all: down, or not listening yet

    async def statuses(self, probe: str) -> dict[str, int | None]:
        """Each process's answer to ``/health/<probe>`` (None: no answer)."""
        names = list(self._urls)
        answers = await asyncio.gather(
            *(self._status(f"{self._urls[name]}/health/{probe}") for name in names)
        )
        return dict(zip(names, answers, strict=True))

    async def check(self, probe: str) -> dict[str, bool]:
        return {name: status == 200 for name, status in (await self.statuses(probe)).items()}

    async def until_ready(self, within: float = RECOVERY_TIMEOUT_SECONDS) -> float | None:
        """The monotonic time at which every process was ready; None if not within ``within``."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if all((await self.check("ready")).values()):
                return time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
        return None

    async def watch(self, record: FaultRecord) -> None:
        """Note, until cancelled, every process that says it is not ready or not alive."""
        while True:
            ready, alive = await asyncio.gather(self.check("ready"), self.statuses("live"))
            for name, ok in ready.items():
                if not ok and name not in record.unready:
                    record.unready.append(name)
            for name, status in alive.items():
                # No answer is the kill itself; an answer other than 200 is a failed liveness.
                if status not in {None, 200} and name not in record.not_alive:
                    record.not_alive.append(name)
            await asyncio.sleep(POLL_SECONDS * 2)

    async def close(self) -> None:
        await self._http.aclose()


class Driver:
    """Runs a plan of faults against one platform (its devstack, its services)."""

    def __init__(
        self,
        config: DevstackConfig,
        urls: dict[str, str],
        admin: KafkaAccess,
        outboxes: dict[str, str],
    ) -> None:
        self.config = config
        self.probes = Probes(urls)
        self.outboxes = outboxes
        """Each consuming service's database URL: its outbox must move after a fault."""
        self.admin = admin
        self.records: list[FaultRecord] = []
        self.poison: list[Poison] = []
        self._began = time.monotonic()
        self.last_fault_over = self._began
        """When the last fault's recovery ended (monotonic)."""
        self.abandoned: list[Fault] = []
        """Faults not injected because an earlier one was never recovered from."""
        self._injectors: dict[str, Callable[[FaultRecord], Awaitable[float | None]]] = {
            "kill": self._kill,
            "broker_stop": lambda r: self._restart_broker(r, signal.SIGTERM),
            "broker_kill": lambda r: self._restart_broker(r, signal.SIGKILL),
            "postgres_fast": lambda r: self._restart_postgres(r, signal.SIGINT),
            "postgres_immediate": lambda r: self._restart_postgres(r, signal.SIGQUIT),
            "poison": self._poison,
        }

    async def run(self, faults: list[Fault], *, over_seconds: float) -> None:
        """Inject ``faults`` one after the other, spread evenly over ``over_seconds``, each
        once every process is ready (a slow recovery delays the next fault, never overlaps)."""
        slot = over_seconds / max(len(faults), 1)
        for index, fault in enumerate(faults):
            due = self._began + index * slot
            await asyncio.sleep(max(due - time.monotonic(), 0.0))
            await self.probes.until_ready()
            record = FaultRecord(fault.kind, fault.target, round(time.monotonic() - self._began, 1))
            watcher = asyncio.create_task(self.probes.watch(record))
            try:
                back = await self._injectors[fault.kind](record)
                ready = await self.probes.until_ready()
                # Ready is not enough: a relay that says it works but publishes nothing would
                # pass. Recovered means what the outboxes held by then has been published.
                moved = await self.until_published() if ready is not None else None
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            if back is not None and ready is not None and moved is not None:
                record.recovery_seconds = round(max(ready, moved) - back, 2)
            self.records.append(record)
            self.last_fault_over = time.monotonic()
            if record.recovery_seconds is None:
                # The platform did not heal: the run has its verdict, and further faults on a
                # broken platform would only make the verdict slower to come.
                self.abandoned = faults[index + 1 :]
                return

    async def until_published(self, within: float = RECOVERY_TIMEOUT_SECONDS) -> float | None:
        """The monotonic time by which every row the outboxes hold now was published (the relay
        deletes a row once the broker acknowledged it); None if not within ``within``."""
        deadline = time.monotonic() + within
        connections = [await asyncpg.connect(url, timeout=5) for url in self.outboxes.values()]
        try:
            marks = [
                await c.fetchval("SELECT coalesce(max(id), 0) FROM outbox") for c in connections
            ]
            while time.monotonic() < deadline:
                left = [
                    await c.fetchval("SELECT count(*) FROM outbox WHERE id <= $1", mark)
                    for c, mark in zip(connections, marks, strict=True)
                ]
                if not any(left):
                    return time.monotonic()
                await asyncio.sleep(POLL_SECONDS)
            return None
        finally:
            for connection in connections:
                await connection.close()

    async def close(self) -> None:
        await self.probes.close()

    # --- the faults; each returns the monotonic time the broken part was back ---------------
    async def _kill(self, record: FaultRecord) -> float | None:
        pid = services.service_pid(self.config, record.target)
        if pid is None:
            raise AssertionError(f"{record.target} has no running process to kill")
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        await asyncio.to_thread(wait_for_exit, pid, timeout_s=10)
        return killed

    async def _restart_broker(self, record: FaultRecord, how: signal.Signals) -> float | None:
        down = time.monotonic()
        if how == signal.SIGTERM:
            await asyncio.to_thread(kafka_server.stop, self.config)  # waits for a clean exit
        else:
            pid = kafka_server.running_pid(self.config)
            if pid is None:
                raise AssertionError("no broker to kill")
            send_signal(pid, how, group=True)
            await asyncio.to_thread(wait_for_exit, pid, timeout_s=30)
        return await self._bring_back(
            record, down, self.config.kafka_port, lambda: api.start(self.config, postgres=False)
        )

    async def _restart_postgres(self, record: FaultRecord, how: signal.Signals) -> float | None:
        pid = postgres_server.running_pid(self.config)
        if pid is None:
            raise AssertionError("no PostgreSQL to restart")
        down = time.monotonic()
        # SIGINT is PostgreSQL's "fast" shutdown, SIGQUIT its "immediate" one (crash recovery
        # follows on start).
        os.kill(pid, how)
        await asyncio.to_thread(wait_for_exit, pid, timeout_s=60)
        return await self._bring_back(
            record, down, self.config.postgres_port, lambda: api.start(self.config, kafka=False)
        )

    async def _bring_back(
        self, record: FaultRecord, down: float, port: int, start: Callable[[], object]
    ) -> float | None:
        # A killed server's pid may look gone while the kernel still tears the process down,
        # its port open: "back" means listening again after the port was seen closed.
        while await asyncio.to_thread(port_accepts, HOST, port):  # noqa: ASYNC110  # polling a port: no event to wait on
            await asyncio.sleep(POLL_SECONDS / 4)
        starting = asyncio.create_task(asyncio.to_thread(start))
        back = None
        while back is None:
            if await asyncio.to_thread(port_accepts, HOST, port):
                back = time.monotonic()
            elif starting.done():
                starting.result()  # raises if the server did not start
            else:
                await asyncio.sleep(POLL_SECONDS)
        await starting
        record.outage_seconds = round((back or time.monotonic()) - down, 2)
        return back

    async def _poison(self, record: FaultRecord) -> float | None:
        producer = AIOKafkaProducer(**self.admin.options(), acks="all")
        await producer.start()
        try:
            for topic in CONSUMED:
                nonce = uuid.uuid4().hex
                for value, reason in (
                    (f"\xff chaos {nonce}: not JSON".encode("latin-1"), REASON_NOT_JSON),
                    (
                        json.dumps({"chaos": nonce, "type": "claim.file"}).encode(),
                        REASON_CONTRACT_VIOLATION,
                    ),
                ):
                    sent = await producer.send_and_wait(topic.name, value, key=nonce.encode())
                    self.poison.append(
                        Poison(topic.name, sent.partition, sent.offset, value, reason)
                    )
        finally:
            await producer.stop()
        return time.monotonic()
