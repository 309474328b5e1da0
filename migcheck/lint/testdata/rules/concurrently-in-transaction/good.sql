-- One CONCURRENTLY statement alone in its file: golang-migrate sends it on
-- its own, outside any transaction.
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
