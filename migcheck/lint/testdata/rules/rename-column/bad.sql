SET lock_timeout = '5s';
-- want: rename-column
ALTER TABLE orders RENAME COLUMN amount TO total;
