-- eventlog_records is the log itself: one row per version of a stream.
-- Rows are only ever inserted; the triggers below reject UPDATE, DELETE
-- and TRUNCATE so a bug (or a tired operator) cannot rewrite history.
CREATE TABLE eventlog_records (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- xid orders records for consumers; see doc.go ("The ordering fence").
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_type text NOT NULL,
    stream_id   text NOT NULL,
    version     bigint NOT NULL CHECK (version >= 1),
    record_id   text NOT NULL,
    data        jsonb NOT NULL,
    metadata    jsonb NOT NULL DEFAULT '{}',
    writer      text NOT NULL,
    trace_id    text NOT NULL DEFAULT '',
    span_id     text NOT NULL DEFAULT '',
    actor       text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    -- revert_of is the version this record copies when it is a revert.
    revert_of   bigint,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT eventlog_records_stream_version UNIQUE (stream_type, stream_id, version),
    CONSTRAINT eventlog_records_record_id UNIQUE (record_id)
);

CREATE INDEX eventlog_records_fence ON eventlog_records (xid, position);
CREATE INDEX eventlog_records_writer ON eventlog_records (writer, recorded_at);

CREATE FUNCTION eventlog_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventlog: % on eventlog_records is not allowed; records are append-only, append a new version (or a revert) instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER eventlog_records_no_update_delete
    BEFORE UPDATE OR DELETE ON eventlog_records
    FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change();

CREATE TRIGGER eventlog_records_no_truncate
    BEFORE TRUNCATE ON eventlog_records
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog_reject_change();

-- eventlog_consumers holds each named consumer's checkpoint: the (xid,
-- position) of the last record it handled.
CREATE TABLE eventlog_consumers (
    name        text PRIMARY KEY,
    xid         xid8 NOT NULL DEFAULT '0',
    position    bigint NOT NULL DEFAULT 0,
    handled     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
