-- An index on a table created earlier in the same file is built on an
-- empty table that nobody uses yet.
CREATE TABLE refunds (id bigint PRIMARY KEY, order_id bigint NOT NULL);
CREATE INDEX refunds_order_idx ON refunds (order_id);
