-- Order-level deadlines: the platform files for a buyer whose message the seller never
-- answered, when the contact window ends. They name the order and the contact.
ALTER TABLE deadlines ADD COLUMN order_id text;
ALTER TABLE deadlines ADD COLUMN contact_id text;
