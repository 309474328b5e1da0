DROP TABLE IF EXISTS eventlog_consumers;
DROP TABLE IF EXISTS eventlog_records;
DROP FUNCTION IF EXISTS eventlog_reject_change();
