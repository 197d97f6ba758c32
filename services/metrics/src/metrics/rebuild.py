"""Operator command: rebuild all ODR state from the topics, from offset zero.

    atoz-metrics-rebuild --into postgresql://.../metrics_rebuilt [--commit-offsets]

Reads ``orders.v1`` and ``claims.events.v1`` from the beginning up to their ends at start,
applies every message exactly once (the inbox deduplicates retried messages) with the same
handler as the live service, and shows a progress bar. Health events are not published again:
the rebuilt outbox is emptied. With ``--commit-offsets`` the service's consumer group is moved
to where the rebuild stopped, so a service started on the rebuilt database goes on from there.

An operator tool: it reads the dead-letter topics too (what the live service refused is skipped),
so it connects as the Kafka admin: ``METRICS_KAFKA_USERNAME=admin METRICS_KAFKA_PASSWORD=...``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import date

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from contracts.codec import decode
from contracts.dlq import HEADER_REASON, DeadLetter
from contracts.topics import DLQ_PARTITIONS, Topic
from metrics import handlers, store
from metrics.app import INPUTS
from metrics.odr import OdrSettings
from metrics.settings import MetricsSettings
from servicekit import postgres
from servicekit.delivery import Delivered, classify, first_occurrences
from servicekit.inbox import first_deliveries
from servicekit.kafka import KafkaAccess

REBUILD_CONSUMER = "metrics-rebuild"
STALL_POLLS = 10
"""Polls in a row that bring nothing while records remain: the reader is refused, not slow."""


class RebuildError(Exception):
    """The rebuild cannot go on; the message says why and what to do."""


BATCH = 1000

app = typer.Typer(add_completion=False, help=__doc__)


async def rebuild(
    kafka: KafkaAccess,
    database_url: str,
    settings: MetricsSettings,
    *,
    commit_offsets_for: str | None = None,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
    as_of: date | None = None,
) -> int:
    """Rebuild into ``database_url`` (its ODR tables are emptied first); messages applied.

    Health is computed as of ``as_of`` when given, else as the service would (today, or on
    event time the newest event time read).
    """
    odr = settings.odr()  # read once, and a bad document refused before any table is emptied
    pool = await postgres.create_pool(database_url)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        await postgres.apply_migrations(pool, postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS)
        await pool.execute(
            "TRUNCATE order_defects, seller_days, seller_health, seller_history,"
            " partition_watermark"
        )
        await pool.execute("DELETE FROM inbox WHERE consumer = $1", REBUILD_CONSUMER)
        topics: dict[str, Topic] = {topic.name: topic for topic in INPUTS}
        refused = await dead_lettered(consumer, settings.consumer_group, topics.values())
        partitions = [
            TopicPartition(t.name, p) for t in topics.values() for p in range(t.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        starts = {p: await consumer.position(p) for p in partitions}
        total = sum(ends[p] - starts[p] for p in partitions)
        done = applied = 0
        positions = dict(starts)
        while any(positions[p] < ends[p] for p in partitions):
            batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            deliveries: list[Delivered] = []
            for partition, records in batch.items():
                for record in records:
                    positions[partition] = record.offset + 1
                    if record.offset >= ends[partition]:
                        continue  # arrived after the rebuild started: the live service has it
                    done += 1
                    if (record.topic, record.partition, record.offset) in refused:
                        continue  # the live service refused it to the DLQ
                    outcome = classify(topics[partition.topic], record, decode)
                    if isinstance(outcome, Delivered):  # else the live consumer DLQ'd it
                        deliveries.append(outcome)
            applied += await _apply(pool, deliveries, settings, odr, as_of)
            on_progress(done, total)
        await pool.execute("DELETE FROM outbox WHERE topic = 'sellers.health.v1'")
        if commit_offsets_for:
            await _commit(kafka, commit_offsets_for, ends)
        return applied
    finally:
        await consumer.stop()
        await pool.close()


async def _apply(
    pool: asyncpg.Pool,
    deliveries: list[Delivered],
    settings: MetricsSettings,
    odr: OdrSettings,
    as_of: date | None,
) -> int:
    """Apply one read batch as the live consumer did; how many messages were applied. Their
    times were judged when the live service read them (what it refused is skipped, see
    :func:`dead_lettered`), so they are not judged again against today's clock."""
    async with pool.acquire() as conn, conn.transaction():
        # The live consumer's inbox step, under the rebuild's own name.
        fresh = await first_deliveries(conn, REBUILD_CONSUMER, [d.message_id for d in deliveries])
        firsts = first_occurrences(deliveries, fresh)
        await handlers.apply_batch(
            conn,
            firsts,
            settings=odr,
            timekeeper=None,
            as_of=as_of or _as_of(settings),
        )
        return len(firsts)


async def dead_lettered(
    consumer: AIOKafkaConsumer, group: str, topics: Iterable[Topic]
) -> set[tuple[str, int, int]]:
    """(topic, partition, offset) of every message ``group`` sent to a DLQ: the live service
    never applied them (a time it refused, a handler error), so neither does the rebuild."""
    dlqs = [TopicPartition(topic.dlq, p) for topic in topics for p in range(DLQ_PARTITIONS)]
    consumer.assign(dlqs)
    await consumer.seek_to_beginning(*dlqs)
    ends = await consumer.end_offsets(dlqs)
    found: set[tuple[str, int, int]] = set()
    positions = {tp: await consumer.position(tp) for tp in dlqs}
    idle = 0
    while any(positions[tp] < ends[tp] for tp in dlqs):
        batch = await consumer.getmany(timeout_ms=1000)
        idle = 0 if batch else idle + 1
        if idle >= STALL_POLLS:
            # aiokafka logs a refused fetch instead of raising it: say what to do, do not spin.
            raise RebuildError(
                "the dead-letter topics cannot be read as this principal: run the rebuild as "
                "the Kafka admin (METRICS_KAFKA_USERNAME=admin and its password)"
            )
        for tp, records in batch.items():
            for record in records:
                positions[tp] = record.offset + 1
                if HEADER_REASON not in dict(record.headers):
                    continue  # not a dead letter (a probe, a hand-written record): no refusal
                letter = DeadLetter.from_headers(record.headers)
                if letter.consumer == group:
                    found.add((letter.source_topic, letter.source_partition, letter.source_offset))
    return found


def _as_of(settings: MetricsSettings) -> date | None:
    # On event time, apply_batch takes the watermark; on wall time, today.
    return None if settings.clock == "event" else date.today()  # noqa: DTZ011  # the service's own day


async def _commit(kafka: KafkaAccess, group: str, ends: dict[TopicPartition, int]) -> None:
    committer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(list(ends))
        await committer.commit(ends)
    finally:
        await committer.stop()


@app.command()
def main(
    into: str | None = typer.Option(
        None, help="Database to rebuild into (default: the service's)."
    ),
    commit_offsets: bool = typer.Option(False, help="Move the service's consumer group on."),
    as_of: str | None = typer.Option(
        None, help="Compute health as of this day (YYYY-MM-DD) instead of the service's today."
    ),
) -> None:
    """Rebuild all ODR state from the topics, from offset zero, with a progress bar."""
    settings = MetricsSettings()
    target = into or settings.database_url
    columns = (
        TextColumn("rebuilding ODR"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("rebuild", total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        applied = asyncio.run(
            rebuild(
                settings.kafka(),
                target,
                settings,
                commit_offsets_for=settings.consumer_group if commit_offsets else None,
                on_progress=show,
                as_of=date.fromisoformat(as_of) if as_of else None,
            )
        )
    typer.echo(f"applied {applied} messages into {target.rsplit('@', 1)[-1]}")


if __name__ == "__main__":
    app()
