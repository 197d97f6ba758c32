"""The inbox: which messages a consumer has already applied, recorded in the applying transaction.

Kafka delivers at least once: a message comes again after a crash between the database commit
and the offset commit, or when a producer retried. Recording the message id in the same
transaction as its effects makes the second delivery find its id and change nothing.
The table is created by servicekit's migration ``0001_inbox_outbox.sql``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Final

import asyncpg

_RECORD: Final = """
INSERT INTO inbox (consumer, message_id)
SELECT $1, message_id FROM unnest($2::text[]) AS given (message_id)
ON CONFLICT DO NOTHING
RETURNING message_id
"""


async def first_deliveries(
    connection: asyncpg.Connection, consumer: str, message_ids: Sequence[str]
) -> set[str]:
    """Record ``message_ids`` as seen by ``consumer``; return those never seen before.

    Call it inside the transaction that applies the messages: if that transaction rolls back,
    the ids are forgotten with it and the messages will be applied on their next delivery.
    One round trip, whatever the number of ids; an id given twice is returned (at most) once.
    """
    if not connection.is_in_transaction():
        # Outside a transaction the ids would be committed before the effects: a crash in
        # between would lose the message for good.
        raise RuntimeError("first_deliveries must run inside the applying transaction")
    if not message_ids:
        return set()
    rows = await connection.fetch(_RECORD, consumer, list(message_ids))
    return {row["message_id"] for row in rows}


_PRUNE: Final = """
DELETE FROM inbox WHERE ctid IN (
    SELECT ctid FROM inbox WHERE received_at < now() - $1::interval LIMIT $2
)
"""


async def prune(pool: Any, older_than: timedelta, *, batch: int = 10_000) -> int:
    """Delete inbox rows received more than ``older_than`` ago, ``batch`` rows per statement
    (short transactions beside the consumer's); return how many went."""
    removed = 0
    while True:
        status = await pool.execute(_PRUNE, older_than, batch)
        count = int(status.rsplit(" ", 1)[1])
        removed += count
        if count < batch:
            return removed


class MemoryInbox:
    """The inbox's in-memory twin, for tests without PostgreSQL. Like the real one it forgets
    the ids of a transaction that rolls back: :meth:`begin` opens a transaction (the
    "connection" handed to the handler) whose ids are kept only if its block ends cleanly."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[dict[str, set[str]]]:
        pending: dict[str, set[str]] = {}
        yield pending
        for consumer, ids in pending.items():  # reached only when the block raised nothing
            self.seen.setdefault(consumer, set()).update(ids)

    async def __call__(
        self, connection: dict[str, set[str]], consumer: str, message_ids: Sequence[str]
    ) -> set[str]:
        taken = self.seen.get(consumer, set()) | connection.get(consumer, set())
        fresh = set(message_ids) - taken
        connection.setdefault(consumer, set()).update(fresh)
        return fresh
