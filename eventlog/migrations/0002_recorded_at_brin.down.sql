DROP INDEX CONCURRENTLY IF EXISTS eventlog_records_recorded_at;
