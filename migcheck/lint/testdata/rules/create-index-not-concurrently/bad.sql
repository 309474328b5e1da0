-- want: create-index-not-concurrently
CREATE INDEX orders_customer_idx ON orders (customer_id);
