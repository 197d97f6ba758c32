-- The event-time watermark per input partition, so replicas consuming different partitions
-- never write the same row (one row for everyone serialised their commits). The watermark is
-- the newest of them; the view keeps its old name for readers.

CREATE TABLE partition_watermark (
    topic      text        NOT NULL,
    partition  integer     NOT NULL,
    event_time timestamptz NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- The newest time read before this migration, kept under no partition of its own.
INSERT INTO partition_watermark (topic, partition, event_time)
SELECT '', -1, event_time FROM watermark;

DROP TABLE watermark;

CREATE VIEW watermark AS SELECT max(event_time) AS event_time FROM partition_watermark;
