SET lock_timeout = '5s';
-- want: concurrently-in-transaction
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
