-- Adjudication's own tables: order facts, claims (state as JSON beside the columns the queries
-- use), each claim's history, the deadlines a scheduler fires, and the event-time watermark.

CREATE TABLE order_facts (
    order_id   text PRIMARY KEY,
    seller_id  text NOT NULL,
    facts      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE claims (
    claim_id    text PRIMARY KEY,
    order_id    text NOT NULL,
    seller_id   text,
    buyer_id    text NOT NULL,
    status      text NOT NULL,
    resolution  text,
    funded_by   text NOT NULL,
    is_open     boolean NOT NULL,
    version     integer NOT NULL,
    filed_at    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    claim       jsonb NOT NULL
);
-- Every claim of an order when one of its facts arrives; and "one open claim per order" as a
-- safety net under the rule (an appeal re-opens a decided claim, so it is not counted here).
CREATE INDEX claims_by_order ON claims (order_id);
CREATE UNIQUE INDEX one_open_claim_per_order ON claims (order_id)
    WHERE status IN ('action_required', 'under_review');
-- A seller's queue by tab, a buyer's claims, the reviewer queue: newest first.
CREATE INDEX claims_by_seller ON claims (seller_id, status, updated_at DESC);
CREATE INDEX claims_by_buyer ON claims (buyer_id, updated_at DESC);
CREATE INDEX claims_by_status ON claims (status, updated_at);

CREATE TABLE claim_history (
    id          bigserial PRIMARY KEY,
    claim_id    text NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    event       jsonb NOT NULL
);
CREATE INDEX claim_history_by_claim ON claim_history (claim_id, id);

CREATE TABLE deadlines (
    kind     text NOT NULL,
    claim_id text NOT NULL,
    due_at   timestamptz NOT NULL,
    PRIMARY KEY (kind, claim_id)
);
CREATE INDEX deadlines_due ON deadlines (due_at);

CREATE TABLE watermark (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    event_time timestamptz NOT NULL
);
