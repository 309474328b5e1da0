SET lock_timeout = '5s';
-- want: constraint-without-not-valid
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
-- want: constraint-without-not-valid
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);
