-- Finding a writer's changes since a time (Store.WriterChanges, the
-- recovery after a bad deploy) needs an index on time, not a B-tree on
-- every record's writer: that one cost about a fifth of append throughput
-- (long equal strings compared on every insert). Records are only ever
-- appended, so recorded_at rises with the physical order and a BRIN index
-- narrows "since t" to the blocks written since t at almost no cost per
-- insert. 0003 drops the B-tree once this one exists.
CREATE INDEX CONCURRENTLY IF NOT EXISTS eventlog_records_recorded_at ON eventlog_records USING brin (recorded_at);
