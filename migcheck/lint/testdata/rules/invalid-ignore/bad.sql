SET lock_timeout = '5s';
-- want: invalid-ignore
-- seatbelt:ignore drop-column
-- want: drop-column
ALTER TABLE orders DROP COLUMN legacy_flag;
-- want: invalid-ignore
-- seatbelt:ignore no-such-rule it is fine
-- want: rename-column
ALTER TABLE orders RENAME COLUMN amount TO total;
