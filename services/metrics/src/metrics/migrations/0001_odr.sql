-- Metrics' own tables. Reading a seller's rate costs at most window_days rows per channel,
-- whatever the seller's volume: per-order state is folded into per-seller daily counts.

-- One row per order: its defect causes (JSON) and what it currently adds to its day's counts.
CREATE TABLE order_defects (
    order_id       text PRIMARY KEY,
    seller_id      text NOT NULL,
    channel        text,               -- null until order.placed is seen
    order_date     date,
    state          jsonb NOT NULL,
    counted        boolean NOT NULL DEFAULT false,   -- included in seller_days
    defective      boolean NOT NULL DEFAULT false,
    claim          boolean NOT NULL DEFAULT false,
    negative_feedback boolean NOT NULL DEFAULT false,
    chargeback     boolean NOT NULL DEFAULT false
);

-- Per seller, channel and order date: orders and defects (the rate's numerator and denominator).
CREATE TABLE seller_days (
    seller_id         text NOT NULL,
    channel           text NOT NULL,
    day               date NOT NULL,
    orders            integer NOT NULL DEFAULT 0,
    defective         integer NOT NULL DEFAULT 0,
    claims            integer NOT NULL DEFAULT 0,
    negative_feedback integer NOT NULL DEFAULT 0,
    chargebacks       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (seller_id, channel, day)
);

-- The last health published per seller: events go out only when it really changes.
CREATE TABLE seller_health (
    seller_id   text PRIMARY KEY,
    as_of       date NOT NULL,
    orders      integer NOT NULL,
    defective   integer NOT NULL,
    rate        numeric NOT NULL,
    status      text NOT NULL,
    health      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- The at-risk list, worst first.
CREATE INDEX seller_health_worst ON seller_health (status, rate DESC, seller_id);

-- Daily history: one row per seller and day on which its health was computed.
CREATE TABLE seller_history (
    seller_id text NOT NULL,
    day       date NOT NULL,
    orders    integer NOT NULL,
    defective integer NOT NULL,
    rate      numeric NOT NULL,
    status    text NOT NULL,
    PRIMARY KEY (seller_id, day)
);

CREATE TABLE watermark (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    event_time timestamptz NOT NULL
);
