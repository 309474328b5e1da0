DROP TABLE IF EXISTS eventlog_group_members;
DROP TABLE IF EXISTS eventlog_group_partitions;
