-- The exactly-once plumbing every consuming service shares (servicekit.inbox, servicekit.outbox).

-- Ids of the messages each consumer has applied: a redelivered message finds its id here and is
-- skipped, in the same transaction that would have applied it again.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Messages written in the same transaction as the state change that caused them; the relay
-- publishes them in id order and deletes them once the broker has acknowledged.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    topic      text        NOT NULL,
    key        bytea       NOT NULL,
    value      bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
