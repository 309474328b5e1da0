SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_currency_not_null CHECK (currency IS NOT NULL) NOT VALID;
-- The CHECK is not validated yet, so it proves nothing.
-- want: set-not-null-without-check
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
