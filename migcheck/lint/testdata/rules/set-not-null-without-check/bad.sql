SET lock_timeout = '5s';
-- want: set-not-null-without-check
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
