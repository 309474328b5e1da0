SET lock_timeout = '5s';
-- want: drop-index-not-concurrently
DROP INDEX orders_customer_idx;
