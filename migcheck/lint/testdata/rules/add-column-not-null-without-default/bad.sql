SET lock_timeout = '5s';
-- want: add-column-not-null-without-default
ALTER TABLE orders ADD COLUMN currency text NOT NULL;
