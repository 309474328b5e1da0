SET lock_timeout = '5s';
-- want: change-column-type
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);
