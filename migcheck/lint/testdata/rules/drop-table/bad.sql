SET lock_timeout = '5s';
-- want: drop-table
DROP TABLE legacy_orders;
