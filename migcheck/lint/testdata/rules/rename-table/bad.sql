SET lock_timeout = '5s';
-- want: rename-table
ALTER TABLE orders RENAME TO purchases;
