CREATE INDEX CONCURRENTLY IF NOT EXISTS eventlog_records_writer ON eventlog_records (writer, recorded_at);
