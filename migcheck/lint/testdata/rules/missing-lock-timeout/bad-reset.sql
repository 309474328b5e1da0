SET lock_timeout = '5s';
RESET lock_timeout;
-- want: missing-lock-timeout
ALTER TABLE orders ADD COLUMN note text;
SET lock_timeout = 0;
-- want: missing-lock-timeout
ALTER TABLE orders ADD COLUMN remark text;
