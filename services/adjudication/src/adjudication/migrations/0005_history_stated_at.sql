-- When a command's sender said it happened (its envelope time), beside when the rules acted
-- (occurred_at): a stated time is recorded, never believed as "now" on the wall clock.
ALTER TABLE claim_history ADD COLUMN stated_at timestamptz;
