"""The inbox: which messages a consumer has already applied, recorded in the applying transaction.

Kafka delivers at least once: a message comes again after a crash between the database commit
and the offset commit, or when a producer retried. Recording the message id in the same
transaction as its effects makes the second delivery find its id and change nothing.
The table is created by servicekit's migration ``0001_inbox_outbox.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
