-- Replaced by the BRIN index on recorded_at (0002).
DROP INDEX CONCURRENTLY IF EXISTS eventlog_records_writer;
