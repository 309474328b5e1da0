DROP TRIGGER IF EXISTS eventlog_records_check_insert ON eventlog_records;
DROP FUNCTION IF EXISTS eventlog_check_insert();
