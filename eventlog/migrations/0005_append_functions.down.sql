DROP FUNCTION IF EXISTS eventlog_append_one(bigint, text, text, text, text, text, text, text, bigint, text, text, text);
DROP FUNCTION IF EXISTS eventlog_append_many(bigint, text, text, text, text, text, text, text, bigint, text[], text[], text[]);
DROP FUNCTION IF EXISTS eventlog_append_shared(bigint[], bigint[], bigint[], text[], text[], text[], text[], text[], text[], text[], bigint[], text[], text[], text[]);
