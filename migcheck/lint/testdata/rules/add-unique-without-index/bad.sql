SET lock_timeout = '5s';
-- want: add-unique-without-index
ALTER TABLE orders ADD CONSTRAINT orders_number_key UNIQUE (number);
