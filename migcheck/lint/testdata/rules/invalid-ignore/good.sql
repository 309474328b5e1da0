SET lock_timeout = '5s';
-- seatbelt:ignore drop-column,missing-lock-timeout version 41 no longer reads legacy_flag
ALTER TABLE orders DROP COLUMN legacy_flag;
