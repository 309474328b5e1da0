-- The new name as a view over the old table: both versions work.
CREATE VIEW purchases AS SELECT * FROM orders;
