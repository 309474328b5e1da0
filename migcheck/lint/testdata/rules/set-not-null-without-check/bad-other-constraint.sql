SET lock_timeout = '5s';
-- A validated constraint that proves something else does not help.
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
-- want: set-not-null-without-check
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
