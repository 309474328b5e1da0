-- The database, not only the Go code, keeps each stream gapless and each
-- record dated and attributed by the database, whoever inserts: a role
-- with INSERT (a script, psql, a service without this package) cannot skip
-- versions, date a record with its own clock or claim another
-- transaction's id. A bad row fails its whole statement with
-- check_violation, saying what to change.
--
-- After each INSERT statement, eventlog_check_insert looks at the rows it
-- added (a transition table) and refuses a row when
--   - its version is above 1 and the stream has no version just below it
--     (a gap; a taken version is refused by the unique (stream, version)
--     index, with unique_violation, as before);
--   - its xid is not the inserting transaction's (consumers' ordering fence
--     relies on it);
--   - its recorded_at is not a database clock reading taken during the
--     statement (between statement_timestamp() and now), or is earlier
--     than the previous version's. It may equal the previous version's:
--     appends write greatest(clock_timestamp(), previous time), so times
--     rise with versions even if the clock steps back (as-of reads and
--     the BRIN index on recorded_at rely on rising times).
-- Leaving recorded_at and xid to their defaults always passes.
--
-- One check per statement rather than a trigger per row: a row trigger
-- that reads the head costs a query per record, about doubling the time
-- of a 100-record append; this one probes the index once per row inside a
-- single query. A multi-row INSERT may hold several versions of a stream,
-- inserted in version order (their times must rise with them).
-- Predecessors are looked up in the table the trigger fires on
-- (tableoid), so a temporary table of the same name cannot supply them.
CREATE FUNCTION eventlog_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT a.stream_type, a.stream_id, a.version, a.recorded_at, a.xid, p.version AS prev, p.recorded_at AS prev_at INTO bad
    FROM added a LEFT JOIN LATERAL (
        SELECT e.version, e.recorded_at FROM eventlog_records e
        WHERE e.stream_type = a.stream_type AND e.stream_id = a.stream_id AND e.version = a.version - 1
            AND e.tableoid = TG_RELID
        LIMIT 1) p ON true
    WHERE (a.version > 1 AND p.version IS NULL)
        OR a.xid <> pg_current_xact_id()
        OR a.recorded_at < p.recorded_at
        OR (a.recorded_at IS DISTINCT FROM p.recorded_at
            AND (a.recorded_at < statement_timestamp() OR a.recorded_at > clock_timestamp()))
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF bad.version > 1 AND bad.prev IS NULL THEN
        RAISE EXCEPTION 'eventlog: version % of %/% leaves a gap: the stream is at version %, so the next is %', bad.version, bad.stream_type, bad.stream_id,
                (SELECT coalesce(max(version), 0) FROM eventlog_records e WHERE e.stream_type = bad.stream_type AND e.stream_id = bad.stream_id AND e.version < bad.version),
                (SELECT coalesce(max(version), 0) + 1 FROM eventlog_records e WHERE e.stream_type = bad.stream_type AND e.stream_id = bad.stream_id AND e.version < bad.version)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'eventlog_records_gapless',
                HINT = 'A stream''s versions go 1, 2, 3... without gaps: insert the next one.';
    ELSIF bad.xid <> pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventlog: version % of %/% claims transaction %, not the inserting one', bad.version, bad.stream_type, bad.stream_id, bad.xid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'eventlog_records_xid',
                HINT = 'Leave xid to its default.';
    ELSE
        RAISE EXCEPTION 'eventlog: version % of %/% is dated %, not by the database clock during the insert%', bad.version, bad.stream_type, bad.stream_id, bad.recorded_at,
                CASE WHEN bad.prev_at IS NULL THEN '' ELSE format(' (version %s is dated %s)', bad.version - 1, bad.prev_at) END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'eventlog_records_recorded_at',
                HINT = 'Leave recorded_at to its default, or set it to greatest(clock_timestamp(), the previous version''s recorded_at).';
    END IF;
END;
$$;

CREATE TRIGGER eventlog_records_check_insert
    AFTER INSERT ON eventlog_records
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog_check_insert();
