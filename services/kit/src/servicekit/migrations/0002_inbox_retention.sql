-- Inbox rows are pruned by age (servicekit.inbox.prune): the index keeps that cheap.
CREATE INDEX inbox_received_at ON inbox (received_at);
