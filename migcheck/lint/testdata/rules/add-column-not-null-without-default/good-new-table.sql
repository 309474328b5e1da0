CREATE TABLE refunds (id bigint PRIMARY KEY);
ALTER TABLE refunds ADD COLUMN reason text NOT NULL;
