-- orders_number_idx was built by the previous migration:
--   CREATE UNIQUE INDEX CONCURRENTLY orders_number_idx ON orders (number);
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_number_key UNIQUE USING INDEX orders_number_idx;
