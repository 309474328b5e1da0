-- want: missing-lock-timeout
ALTER TABLE orders ADD COLUMN note text;
