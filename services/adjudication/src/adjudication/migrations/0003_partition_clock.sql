-- Event time per input partition: the newest event time read on it, and when (wall time) it
-- was last read. The event-time clock is the oldest of the partitions still being read, so a
-- topic that runs ahead cannot make deadlines fire before another topic has caught up.
CREATE TABLE partition_clock (
    topic      text NOT NULL,
    partition  integer NOT NULL,
    event_time timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (topic, partition)
);
