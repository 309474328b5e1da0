package lint_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

func lintSQL(t *testing.T, sql string, cfg *lint.Config) *lint.Result {
	t.Helper()
	res, err := lint.Files(fstest.MapFS{"m.sql": {Data: []byte(sql)}}, []string{"m.sql"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func positions(res *lint.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, fmt.Sprintf("%d:%d %s", f.Line, f.Col, f.Rule))
	}
	return out
}

func TestIgnore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sql string
		want      []string
	}{
		{"BlockComment", "/* seatbelt:ignore truncate scratch table, refilled nightly */ TRUNCATE t;", []string{"1:64 missing-lock-timeout"}},
		{"SeveralRules", "-- seatbelt:ignore truncate,missing-lock-timeout scratch table\nTRUNCATE t;", nil},
		{"OnlyTheNextStatement", "-- seatbelt:ignore truncate scratch\nTRUNCATE t;\nTRUNCATE u;", []string{"2:1 missing-lock-timeout", "3:1 truncate", "3:1 missing-lock-timeout"}},
		{"ReasonRequired", "SET lock_timeout = '1s';\n-- seatbelt:ignore truncate\nTRUNCATE t;", []string{"2:1 invalid-ignore", "3:1 truncate"}},
		{"UnknownRule", "SET lock_timeout = '1s';\n  -- seatbelt:ignore truncat oops\nTRUNCATE t;", []string{"2:3 invalid-ignore", "3:1 truncate"}},
		{"NoRule", "SET lock_timeout = '1s';\n-- seatbelt:ignore\nTRUNCATE t;", []string{"2:1 invalid-ignore", "3:1 truncate"}},
		{"InsideStatementDoesNotCount", "SET lock_timeout = '1s';\nTRUNCATE -- seatbelt:ignore truncate why\n t;", []string{"2:1 truncate"}},
		{"OtherWordsAreNotDirectives", "SET lock_timeout = '1s';\n-- seatbelt:ignored truncate why\nTRUNCATE t;", []string{"3:1 truncate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := positions(lintSQL(t, tc.sql, nil)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sql string
		line, col int
	}{
		{"SecondLine", "SELECT 1;\nALTER TABLE orders ADD COLUMN;\n", 2, 30},
		{"AfterMultibyte", "-- ééé\nSELECT 'ü' +", 2, 14}, // columns count bytes
		{"Unterminated", "SELECT 1;\nSELECT 'abc", 2, 8},
		{"NUL", "SELECT 1;\n SELECT\x00", 2, 8},
		{"ByteOrderMark", "\ufeffSELECT 1;\r\nALTR TABLE t;", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := lintSQL(t, tc.sql, nil)
			if len(res.Errors) != 1 {
				t.Fatalf("errors %v", res.Errors)
			}
			e := res.Errors[0]
			if e.Line != tc.line || e.Col != tc.col || e.Path != "m.sql" {
				t.Errorf("at %s:%d:%d, want m.sql:%d:%d (%v)", e.Path, e.Line, e.Col, tc.line, tc.col, e)
			}
			if !strings.HasPrefix(e.Error(), fmt.Sprintf("m.sql:%d:%d: syntax error: ", tc.line, tc.col)) {
				t.Errorf("message %q", e.Error())
			}
		})
	}
}

// A parse error in one file does not stop the others.
func TestParseErrorDoesNotStopOtherFiles(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"a.sql": {Data: []byte("SELEC 1;")}, "b.sql": {Data: []byte("DROP DATABASE x;")}}
	res, err := lint.Files(fsys, []string{"a.sql", "b.sql"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || len(res.Findings) != 1 || res.Findings[0].Path != "b.sql" || res.Clean() {
		t.Fatalf("errors %v findings %v", res.Errors, res.Findings)
	}
}

func TestPositionsWithByteOrderMarkAndCRLF(t *testing.T) {
	t.Parallel()
	got := positions(lintSQL(t, "\ufeffSET lock_timeout = '1s';\r\n  TRUNCATE t;\r\n", nil))
	if !slices.Equal(got, []string{"2:3 truncate"}) {
		t.Fatalf("got %q", got)
	}
	// A statement the mark begins is seen as any other: PostgreSQL refuses
	// the mark, and migcheck.Apply and the checksum skip it as the linter
	// does.
	got = positions(lintSQL(t, "\ufeffCREATE INDEX i ON t (a);\n", nil))
	if !slices.ContainsFunc(got, func(p string) bool {
		return strings.HasPrefix(p, "1:") && strings.HasSuffix(p, " "+lint.CreateIndexNotConcurrently)
	}) {
		t.Fatalf("CREATE INDEX behind a byte-order mark: got %q", got)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	const sql = "ALTER TABLE t ADD COLUMN c text;\nCREATE INDEX CONCURRENTLY i ON t (c);"
	t.Run("Default", func(t *testing.T) {
		t.Parallel()
		want := []string{"1:1 missing-lock-timeout", "2:1 concurrently-in-transaction"}
		if got := positions(lintSQL(t, sql, nil)); !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("RunnerSetsLockTimeoutAndMultiStatement", func(t *testing.T) {
		t.Parallel()
		res := lintSQL(t, sql, &lint.Config{RunnerSetsLockTimeout: true, MultiStatement: true})
		if !res.Clean() {
			t.Errorf("findings %v", res.Findings)
		}
	})
	t.Run("MultiStatementStillRefusesBegin", func(t *testing.T) {
		t.Parallel()
		got := positions(lintSQL(t, "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (c);\nCOMMIT;", &lint.Config{MultiStatement: true}))
		if !slices.Equal(got, []string{"2:1 concurrently-in-transaction"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("Disable", func(t *testing.T) {
		t.Parallel()
		got := positions(lintSQL(t, sql, &lint.Config{Disable: []string{lint.MissingLockTimeout}}))
		if !slices.Equal(got, []string{"2:1 concurrently-in-transaction"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("DisableUnknownRule", func(t *testing.T) {
		t.Parallel()
		_, err := lint.Files(fstest.MapFS{}, nil, &lint.Config{Disable: []string{"no-such-rule", lint.DropTable, "other"}})
		if !errors.Is(err, lint.ErrUnknownRule) || !errors.Is(err, lint.ErrInvalidConfig) {
			t.Errorf("err = %v; want ErrUnknownRule and ErrInvalidConfig", err)
		}
		if want := `lint: invalid config: Config.Disable names unknown rule "no-such-rule", "other"; see lint.Rules()`; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("err = %v; want it to start %q", err, want)
		}
		_, err = lint.Dir(fstest.MapFS{}, &lint.Config{Disable: []string{"no-such-rule"}})
		if !errors.Is(err, lint.ErrUnknownRule) {
			t.Errorf("Dir err = %v", err)
		}
	})
	t.Run("StrictCountsReindexAndUnique", func(t *testing.T) {
		t.Parallel()
		got := positions(lintSQL(t, "SET lock_timeout = '1s';\nREINDEX TABLE CONCURRENTLY t;\nALTER TABLE t ADD PRIMARY KEY (id);", &lint.Config{Strict: true, MultiStatement: true}))
		want := []string{"2:1 index-in-migration", "3:1 add-unique-without-index", "3:1 index-in-migration"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestStatementDetails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sql string
		want      []string
	}{
		{"LockTimeoutInMinutes", "SET LOCAL lock_timeout TO '1min';\nALTER TABLE t DROP COLUMN c;", []string{"2:1 drop-column"}},
		{"ZeroSeconds", "SET lock_timeout = '0s';\nALTER TABLE t ADD COLUMN c int;", []string{"2:1 missing-lock-timeout"}},
		{"ResetAll", "SET lock_timeout = 100;\nRESET ALL;\nLOCK TABLE t;", []string{"3:1 missing-lock-timeout"}},
		{"LockShareModeIsFine", "LOCK TABLE t IN SHARE MODE;", nil},
		{"ValidateTakesWeakLock", "ALTER TABLE t VALIDATE CONSTRAINT c;", nil},
		{"ForeignKeyNotValidTakesWeakLock", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID;", nil},
		{"StableDefault", "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c timestamptz DEFAULT CURRENT_TIMESTAMP, ADD COLUMN d jsonb NOT NULL DEFAULT jsonb_build_object('a', now());", nil},
		{"UserFunctionCountsAsVolatile", "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c text DEFAULT my_func();", []string{"2:1 volatile-default"}},
		{"VolatileInsideExpression", "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c int DEFAULT (random() * 10)::int;", []string{"2:1 volatile-default"}},
		{"AddPrimaryKeyColumn", "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN id int PRIMARY KEY;", []string{"2:1 add-unique-without-index", "2:1 add-column-not-null-without-default"}},
		{"SchemaQualifiedNewTable", "CREATE TABLE app.t (a int);\nCREATE INDEX ON app.t (a);\nCREATE INDEX ON t (a);", []string{"3:1 create-index-not-concurrently"}},
		{"PublicIsUnqualified", "CREATE TABLE t (a int);\nCREATE INDEX ON public.t (a);", nil},
		{"QuotedNames", "CREATE TABLE \"Orders\" (a int);\nCREATE INDEX ON \"Orders\" (a);\nCREATE INDEX ON orders (a);", []string{"3:1 create-index-not-concurrently"}},
		{"VacuumWithoutFull", "VACUUM t;\nVACUUM (FULL false) t;", nil},
		{"VacuumFullEverything", "VACUUM FULL;", []string{"1:1 vacuum-full"}},
		{"ClusterEverything", "CLUSTER;", []string{"1:1 cluster"}},
		{"ReindexDatabase", "REINDEX DATABASE app;", []string{"1:1 reindex-not-concurrently"}},
		{"DetachConcurrently", "SET lock_timeout = '1s';\nALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;", []string{"2:1 concurrently-in-transaction"}},
		{"DropIndexConcurrentlyInTransaction", "BEGIN;\nDROP INDEX CONCURRENTLY i;\nCOMMIT;", []string{"2:1 concurrently-in-transaction"}},
		{"AfterCommitStillOneFile", "BEGIN;\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON t (a);", []string{"3:1 concurrently-in-transaction"}},
		{"CreateTableAsIsNew", "CREATE TABLE c AS SELECT 1 AS a;\nCREATE INDEX ON c (a);\nTRUNCATE c;", nil},
		{"AlterViewIsNotTable", "ALTER VIEW v RENAME TO w;\nALTER INDEX i RENAME TO j;", nil},
		{"DropTableOnlyTheExistingOne", "SET lock_timeout = '1s';\nCREATE TABLE a (x int);\nDROP TABLE a, b;", []string{"3:1 drop-table"}},
		{"FunctionBodyIsOneToken", "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ TRUNCATE t; $$;", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := positions(lintSQL(t, tc.sql, nil)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

type recorder struct {
	helpers int
	errors  []string
}

func (r *recorder) Helper() { r.helpers++ }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestTestHelper(t *testing.T) {
	t.Parallel()
	t.Run("FailsOncePerFinding", func(t *testing.T) {
		t.Parallel()
		var r recorder
		lint.Test(&r, fstest.MapFS{
			"0001_a.up.sql": {Data: []byte("SET lock_timeout = '1s';\nTRUNCATE a;\nDROP TABLE b;")},
			"0002_b.up.sql": {Data: []byte("SELEC;")},
		}, nil)
		if len(r.errors) != 3 || r.helpers == 0 {
			t.Fatalf("errors %q", r.errors)
		}
		if !strings.HasPrefix(r.errors[0], "0002_b.up.sql:1:1: syntax error") {
			t.Errorf("first error %q", r.errors[0])
		}
		if !strings.HasPrefix(r.errors[1], "0001_a.up.sql:2:1: truncate: ") || !strings.Contains(r.errors[1], "\thint: delete in batches") {
			t.Errorf("second error %q", r.errors[1])
		}
	})
	t.Run("CleanSetPasses", func(t *testing.T) {
		t.Parallel()
		var r recorder
		lint.Test(&r, fstest.MapFS{"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int);")}}, nil)
		if len(r.errors) != 0 {
			t.Fatalf("errors %q", r.errors)
		}
	})
	t.Run("BadSetFails", func(t *testing.T) {
		t.Parallel()
		var r recorder
		lint.Test(&r, fstest.MapFS{"0001_a.sql": {}}, nil)
		if len(r.errors) != 1 || !strings.Contains(r.errors[0], "rename it") {
			t.Fatalf("errors %q", r.errors)
		}
	})
}
