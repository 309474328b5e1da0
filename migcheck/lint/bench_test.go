package lint_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

// generatedSet is a set of n migrations shaped like a real service's: each
// creates a table, then alters, indexes, constrains and backfills tables of
// earlier migrations, with a function body and comments, about 30 lines.
func generatedSet(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		prev := max(1, i-1)
		var b strings.Builder
		fmt.Fprintf(&b, "-- Migration %d: table t%d and changes to t%d.\nSET lock_timeout = '5s';\n", i, i, prev)
		fmt.Fprintf(&b, "CREATE TABLE t%d (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    parent_id bigint REFERENCES t%d (id),\n    name text NOT NULL,\n    payload jsonb NOT NULL DEFAULT '{}'::jsonb,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n", i, prev)
		fmt.Fprintf(&b, "CREATE INDEX t%d_parent_idx ON t%d (parent_id);\n", i, i)
		fmt.Fprintf(&b, "ALTER TABLE t%d ADD COLUMN note_%d text;\n", prev, i)
		fmt.Fprintf(&b, "ALTER TABLE t%d ADD CONSTRAINT t%d_name_len_%d CHECK (char_length(name) < 200) NOT VALID;\n", prev, prev, i)
		if i >= 3 { // the constraint the previous migration added
			fmt.Fprintf(&b, "ALTER TABLE t%d VALIDATE CONSTRAINT t%d_name_len_%d;\n", i-2, i-2, i-1)
		}
		fmt.Fprintf(&b, "/* backfill in one statement: small table */\nUPDATE t%d SET note_%d = name WHERE note_%d IS NULL AND created_at > now() - interval '1 day';\n", prev, i, i)
		fmt.Fprintf(&b, "CREATE FUNCTION t%d_touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    NEW.created_at := now();\n    RETURN NEW;\nEND;\n$$;\n", i)
		fmt.Fprintf(&b, "CREATE TRIGGER t%d_touch BEFORE UPDATE ON t%d FOR EACH ROW EXECUTE FUNCTION t%d_touch();\n", i, i, i)
		if i%10 == 0 {
			fmt.Fprintf(&b, "CREATE INDEX t%d_name_idx ON t%d (name);\n", prev, prev) // a finding every tenth file
		}
		fsys[fmt.Sprintf("%06d_m%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(b.String())}
		fsys[fmt.Sprintf("%06d_m%d.down.sql", i, i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("DROP TABLE t%d;\n", i))}
	}
	return fsys
}

// BenchmarkLint1000Files lints a set of 1,000 generated migrations: the
// figure in BENCHMARKS.md (goal: under 2 s).
func BenchmarkLint1000Files(b *testing.B) {
	fsys := generatedSet(1000)
	var bytes int64
	for name, f := range fsys {
		if strings.HasSuffix(name, ".up.sql") {
			bytes += int64(len(f.Data))
		}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		res, err := lint.Dir(fsys, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Files) != 1000 || len(res.Errors) != 0 || len(res.Findings) != 100 {
			b.Fatalf("%d files, %d errors, %d findings", len(res.Files), len(res.Errors), len(res.Findings))
		}
	}
}

// BenchmarkLintFile is one typical migration, for the per-file cost.
func BenchmarkLintFile(b *testing.B) {
	fsys := generatedSet(2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lint.Files(fsys, []string{"000002_m2.up.sql"}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
