SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
-- The ACCESS EXCLUSIVE lock of the ADD is held until COMMIT, so this scan blocks everything.
-- want: constraint-without-not-valid
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
