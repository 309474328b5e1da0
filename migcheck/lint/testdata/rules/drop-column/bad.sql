SET lock_timeout = '5s';
-- want: drop-column
ALTER TABLE orders DROP COLUMN legacy_flag;
