package migcheck_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sql  string
		want []string
	}{
		{"Plain", "CREATE TABLE a (x int);\nCREATE TABLE b (y int);\n", []string{"CREATE TABLE a (x int)", "CREATE TABLE b (y int)"}},
		{"NoFinalSemicolon", "SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"QuotedSemicolons", `INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT "x;y" FROM t`, []string{`INSERT INTO t VALUES ('a;b', 'it''s;')`, `SELECT "x;y" FROM t`}},
		{"EscapeString", `SELECT E'\';'; SELECT 2`, []string{`SELECT E'\';'`, "SELECT 2"}},
		{"BackslashIsPlainInStandardStrings", `SELECT 'a\'; SELECT 2`, []string{`SELECT 'a\'`, "SELECT 2"}},
		{"DollarQuotes", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nDO $body$ BEGIN PERFORM 1; END $body$;",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "DO $body$ BEGIN PERFORM 1; END $body$"}},
		{"PositionalParameterIsNotADollarQuote", "PREPARE p AS SELECT $1; SELECT 2", []string{"PREPARE p AS SELECT $1", "SELECT 2"}},
		{"Comments", "-- a; comment\nSELECT 1; /* b; /* nested; */ still; */ SELECT 2; -- trailing;\n", []string{"SELECT 1", "SELECT 2"}},
		{"OnlyComments", "-- nothing here;\n/* nor; here */\n;;", nil},
		{"UnterminatedQuote", "SELECT 'abc; SELECT 2", []string{"SELECT 'abc; SELECT 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, st := range migcheck.SplitStatements(tc.sql) {
				got = append(got, st.SQL)
				if !strings.HasPrefix(tc.sql[st.Offset:], st.SQL) {
					t.Errorf("offset %d of %q does not point at it", st.Offset, st.SQL)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT 'a;b'; $x$;$x$; -- c\n/* d */", "E'\\'';\"a\"\"\";", "$$", "/*/*", "$1$a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		prev := -1
		for _, st := range migcheck.SplitStatements(sql) {
			if st.SQL == "" || st.Offset <= prev || !strings.HasPrefix(sql[st.Offset:], st.SQL) {
				t.Fatalf("statement %+v of %q", st, sql)
			}
			prev = st.Offset
		}
	})
}
