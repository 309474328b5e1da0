-- Generated from eventlog/functions.go (appendFunctionsMigration); a test
-- holds it equal to the statements it wraps. See functions.go for why.

CREATE OR REPLACE FUNCTION eventlog_append_one(bigint, text, text, text, text, text, text, text, bigint, text, text, text)
RETURNS TABLE (appended_version bigint, appended_position bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH ins AS (
INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, metadata, writer, trace_id, span_id, actor, reason, revert_of, recorded_at)
SELECT stream_type, stream_id, coalesce(head_version, 0) + ord, record_id, data::jsonb, metadata::jsonb, writer, trace_id, span_id, actor, reason, revert_of, greatest(clock_timestamp(), head_time)
FROM (SELECT pg_try_advisory_xact_lock(1702259815, hashtext($2::text || '/' || $3::text)) AS locked) lk
LEFT JOIN LATERAL (SELECT version AS head_version, recorded_at AS head_time FROM eventlog_records
	WHERE stream_type = $2::text AND stream_id = $3::text
	ORDER BY version DESC LIMIT 1) h ON true
CROSS JOIN (SELECT $2::text AS stream_type, $3::text AS stream_id, $4::text AS writer, $5::text AS trace_id, $6::text AS span_id, $7::text AS actor, $8::text AS reason, $9::bigint AS revert_of) a
CROSS JOIN (SELECT $10::text AS record_id, $11::text AS data, $12::text AS metadata, 1 AS ord) u
WHERE lk.locked AND ($1::bigint < 0 OR coalesce(h.head_version, 0) = $1::bigint)
RETURNING version, position)
SELECT ins.version, ins.position FROM ins;
END
$fn$;

CREATE OR REPLACE FUNCTION eventlog_append_many(bigint, text, text, text, text, text, text, text, bigint, text[], text[], text[])
RETURNS TABLE (appended_version bigint, appended_position bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH ins AS (
INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, metadata, writer, trace_id, span_id, actor, reason, revert_of, recorded_at)
SELECT stream_type, stream_id, coalesce(head_version, 0) + ord, record_id, data::jsonb, metadata::jsonb, writer, trace_id, span_id, actor, reason, revert_of, greatest(clock_timestamp(), head_time)
	FROM (SELECT pg_try_advisory_xact_lock(1702259815, hashtext($2::text || '/' || $3::text)) AS locked) lk
	LEFT JOIN LATERAL (SELECT version AS head_version, recorded_at AS head_time FROM eventlog_records
		WHERE stream_type = $2::text AND stream_id = $3::text
		ORDER BY version DESC LIMIT 1) h ON true
	CROSS JOIN (SELECT $2::text AS stream_type, $3::text AS stream_id, $4::text AS writer, $5::text AS trace_id, $6::text AS span_id, $7::text AS actor, $8::text AS reason, $9::bigint AS revert_of) a
	CROSS JOIN unnest($10::text[], $11::text[], $12::text[]) WITH ORDINALITY AS u(record_id, data, metadata, ord)
	WHERE lk.locked AND ($1::bigint < 0 OR coalesce(h.head_version, 0) = $1::bigint)
	ORDER BY u.ord
	RETURNING version, position
)
SELECT coalesce(max(version), 0), coalesce(max(position), 0) FROM ins;
END
$fn$;

CREATE OR REPLACE FUNCTION eventlog_append_shared(bigint[], bigint[], bigint[], text[], text[], text[], text[], text[], text[], text[], bigint[], text[], text[], text[])
RETURNS TABLE (appended_stream_type text, appended_stream_id text, appended_version bigint, appended_position bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH g AS MATERIALIZED (
	SELECT a.*, pg_try_advisory_xact_lock(1702259815, hashtext(a.stream_type || '/' || a.stream_id)) AS locked
	FROM unnest($1::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
		WITH ORDINALITY AS a(expected, stream_type, stream_id, writer, trace_id, span_id, actor, reason, revert_of, gi)
), h AS MATERIALIZED (
	SELECT g.*, x.version AS head_version, x.recorded_at AS head_time
	FROM g LEFT JOIN LATERAL (SELECT version, recorded_at FROM eventlog_records e
		WHERE e.stream_type = g.stream_type AND e.stream_id = g.stream_id ORDER BY version DESC LIMIT 1) x ON true
	WHERE g.locked AND (g.expected < 0 OR coalesce(x.version, 0) = g.expected)
), ins AS (
INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, metadata, writer, trace_id, span_id, actor, reason, revert_of, recorded_at)
SELECT stream_type, stream_id, coalesce(head_version, 0) + ord, record_id, data::jsonb, metadata::jsonb, writer, trace_id, span_id, actor, reason, revert_of, greatest(clock_timestamp(), head_time)
	FROM h JOIN unnest($2::bigint[], $3::bigint[], $12::text[], $13::text[], $14::text[])
		AS u(gi, ord, record_id, data, metadata) ON u.gi = h.gi
	ORDER BY h.gi, u.ord
	RETURNING stream_type, stream_id, version, position
)
SELECT stream_type, stream_id, max(version), max(position) FROM ins GROUP BY stream_type, stream_id;
END
$fn$;
