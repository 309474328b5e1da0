-- The next migration: validate without blocking writes, then SET NOT NULL
-- needs no scan because the validated CHECK proves it.
SET lock_timeout = '5s';
ALTER TABLE orders VALIDATE CONSTRAINT orders_currency_not_null;
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_currency_not_null;
