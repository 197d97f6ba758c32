-- Outbox rows are relayed in lanes, one per hash of the record's key: relays of several replicas
-- publish different lanes side by side, and every record of a key, being in one lane published
-- by one relay at a time in id order, keeps its order. The lane is computed by the database, so
-- rows written before this migration (or by an older release) get the lane a new row of their
-- key gets. Sixteen lanes: a relay takes a few per round, so up to about four replicas share the
-- work (more lanes would spread it thinner than one producer's batches).
ALTER TABLE outbox ADD COLUMN lane smallint NOT NULL
    GENERATED ALWAYS AS (((hashtextextended(encode(key, 'hex'), 0) % 16 + 16) % 16)::smallint)
    STORED;

CREATE INDEX outbox_lane_id ON outbox (lane, id);
