-- A migration of its own: VALIDATE takes SHARE UPDATE EXCLUSIVE, writes go on.
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
