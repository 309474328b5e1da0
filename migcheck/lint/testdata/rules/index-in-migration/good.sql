-- seatbelt:ignore index-in-migration built by hand on 2026-11-20; this only records it for fresh databases
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_idx ON orders (customer_id);
