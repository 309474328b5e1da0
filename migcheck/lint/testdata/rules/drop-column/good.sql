SET lock_timeout = '5s';
-- seatbelt:ignore drop-column version 41, the oldest one running, no longer reads legacy_flag
ALTER TABLE orders DROP COLUMN legacy_flag;
