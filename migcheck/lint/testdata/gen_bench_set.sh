#!/usr/bin/env bash
# Writes the 1,000-migration set of BenchmarkLint1000Files (bench_test.go) to
# folder $1, for timing the CLI and squawk on the same files.
set -euo pipefail
out=${1:?usage: gen_bench_set.sh OUTDIR}
mkdir -p "$out"
for i in $(seq 1 1000); do
	p=$((i > 1 ? i - 1 : 1))
	{
		printf -- "-- Migration %d: table t%d and changes to t%d.\nSET lock_timeout = '5s';\n" $i $i $p
		printf "CREATE TABLE t%d (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    parent_id bigint REFERENCES t%d (id),\n    name text NOT NULL,\n    payload jsonb NOT NULL DEFAULT '{}'::jsonb,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n" $i $p
		printf "CREATE INDEX t%d_parent_idx ON t%d (parent_id);\n" $i $i
		printf "ALTER TABLE t%d ADD COLUMN note_%d text;\n" $p $i
		printf "ALTER TABLE t%d ADD CONSTRAINT t%d_name_len_%d CHECK (char_length(name) < 200) NOT VALID;\n" $p $p $i
		if ((i >= 3)); then printf "ALTER TABLE t%d VALIDATE CONSTRAINT t%d_name_len_%d;\n" $((i - 2)) $((i - 2)) $((i - 1)); fi
		printf "/* backfill in one statement: small table */\nUPDATE t%d SET note_%d = name WHERE note_%d IS NULL AND created_at > now() - interval '1 day';\n" $p $i $i
		printf "CREATE FUNCTION t%d_touch() RETURNS trigger LANGUAGE plpgsql AS \$\$\nBEGIN\n    NEW.created_at := now();\n    RETURN NEW;\nEND;\n\$\$;\n" $i
		printf "CREATE TRIGGER t%d_touch BEFORE UPDATE ON t%d FOR EACH ROW EXECUTE FUNCTION t%d_touch();\n" $i $i $i
		if ((i % 10 == 0)); then printf "CREATE INDEX t%d_name_idx ON t%d (name);\n" $p $p; fi
	} >"$out/$(printf '%06d_m%d.up.sql' $i $i)"
	printf "DROP TABLE t%d;\n" $i >"$out/$(printf '%06d_m%d.down.sql' $i $i)"
done
