SET lock_timeout = '5s';
-- Expand: a new column the new version writes along with the old one.
ALTER TABLE orders ADD COLUMN amount_exact numeric(12, 2);
