-- Each order's row is rewritten by its placement, feedback and claims: with pages half empty
-- the new version fits on the row's own page (a heap-only update, no new index entry).
ALTER TABLE order_defects SET (fillfactor = 50);
