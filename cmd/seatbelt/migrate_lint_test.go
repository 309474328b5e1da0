package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/migcheck/lint"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// ordersSet is a set whose 0001 creates orders, 0002 indexes it without
// CONCURRENTLY and 0003 adds a NOT NULL column without a default.
const ordersSet = "../../migcheck/lint/testdata/sets/orders"

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMigrateLintExitCodes(t *testing.T) {
	t.Setenv("DATABASE_URL", "") // the default of --database-url
	clean := writeFiles(t, map[string]string{"0001_a.up.sql": "CREATE TABLE a (id int);\nCREATE INDEX ON a (id);"})
	broken := writeFiles(t, map[string]string{"0001_a.up.sql": "CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN;"})
	badName := writeFiles(t, map[string]string{"0001_a.sql": "SELECT 1;"})
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"Clean", []string{"--dir", clean}, 0, "0 findings, 0 errors in 1 files"},
		{"Findings", []string{"--dir", ordersSet}, 1, "0002_orders_customer_index.up.sql:1:1: create-index-not-concurrently: "},
		{"HintOnNextLine", []string{"--dir", ordersSet}, 1, "\n\thint: use CREATE INDEX CONCURRENTLY"},
		{"LooseFile", []string{"../../migcheck/lint/testdata/rules/truncate/bad.sql"}, 1, "rules/truncate/bad.sql:3:1: truncate: "},
		{"LooseFilesInOrder", []string{"../../migcheck/lint/testdata/rules/set-not-null-without-check/good-1-add-check.sql", "../../migcheck/lint/testdata/rules/set-not-null-without-check/good-2-set-not-null.sql"}, 0, "0 findings, 0 errors in 2 files"},
		{"SyntaxError", []string{"--dir", broken}, 2, "0001_a.up.sql:2:25: syntax error: "},
		{"BadFileName", []string{"--dir", badName}, 2, "rename it to NNNN_name.up.sql"},
		{"NothingToLint", nil, 2, "nothing to lint"},
		{"UnknownFormat", []string{"--format", "xml", "--dir", clean}, 2, "use text, json or github"},
		{"UnknownRule", []string{"--disable", "nope", "--dir", clean}, 2, "unknown rule \"nope\""},
		{"Disable", []string{"--dir", ordersSet, "--disable", "create-index-not-concurrently,add-column-not-null-without-default,missing-lock-timeout"}, 0, "0 findings"},
		{"RunnerSetsLockTimeout", []string{"--dir", ordersSet, "--runner-sets-lock-timeout"}, 1, "2 findings"},
		{"BadSet", []string{"--set", "app"}, 2, "write it as name=path"},
		{"TableForUnknownSet", []string{"--set", "app=" + clean, "--table", "jobs=t"}, 2, "no set is named \"jobs\""},
		{"MissingFile", []string{"no-such-file.sql"}, 2, "no-such-file.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"migrate", "lint"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

func TestMigrateLintJSON(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	broken := writeFiles(t, map[string]string{"0001_a.up.sql": "SELEC 1;"})
	out, code := runCLI(t, "migrate", "lint", "--json", "--dir", ordersSet, "--dir", broken)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (a file did not parse):\n%s", code, out)
	}
	var doc struct {
		Files    []string       `json:"files"`
		Findings []lint.Finding `json:"findings"`
		Errors   []struct {
			Path    string `json:"path"`
			Line    int    `json:"line"`
			Col     int    `json:"col"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	// The JSON document comes first; the exit reason follows it.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&doc); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if len(doc.Files) != 4 || len(doc.Findings) != 3 || len(doc.Errors) != 1 {
		t.Fatalf("files %v findings %v errors %v", doc.Files, doc.Findings, doc.Errors)
	}
	f := doc.Findings[0]
	if f.Rule != lint.CreateIndexNotConcurrently || f.Line != 1 || f.Col != 1 || f.Hint == "" ||
		f.Path != filepath.Join(ordersSet, "0002_orders_customer_index.up.sql") {
		t.Errorf("first finding %+v", f)
	}
	if e := doc.Errors[0]; e.Path != filepath.Join(broken, "0001_a.up.sql") || e.Line != 1 || e.Col != 1 || !strings.Contains(e.Message, "syntax error") {
		t.Errorf("error %+v", e)
	}
}

func TestMigrateLintGitHub(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	out, code := runCLI(t, "migrate", "lint", "--format", "github", "--dir", ordersSet)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := "::error file=" + filepath.Join(ordersSet, "0003_orders_currency.up.sql") + ",line=1,col=1,title=add-column-not-null-without-default::\"orders.currency\": adding a NOT NULL column"
	if !strings.HasPrefix(lines[1], want) || !strings.Contains(lines[1], "%0Ahint: add the column with a constant DEFAULT") {
		t.Fatalf("second line\n%s\nwant prefix\n%s", lines[1], want)
	}
}

func TestMigrateLintListsRules(t *testing.T) {
	out, code := runCLI(t, "migrate", "lint", "--rules")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, r := range lint.Rules() {
		if !strings.Contains(out, r.Name+"\n    ") {
			t.Errorf("rule %s not listed", r.Name)
		}
	}
}

// TestMigrateLintDatabaseURL lints only what the database has not applied,
// reading golang-migrate's version table on a real PostgreSQL.
func TestMigrateLintDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ctx := context.Background()
	dbURL, conn := lintTestDatabase(t, ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	lintAt := func(args ...string) (string, int) {
		return runCLI(t, append([]string{"migrate", "lint", "--format", "json", "--database-url", dbURL, "--dir", ordersSet}, args...)...)
	}
	type summary struct {
		Files    []string       `json:"files"`
		Findings []lint.Finding `json:"findings"`
	}
	check := func(name string, wantFiles, wantFindings, wantCode int, args ...string) {
		t.Helper()
		out, code := lintAt(args...)
		var s summary
		if err := json.NewDecoder(strings.NewReader(out)).Decode(&s); err != nil {
			t.Fatalf("%s: %v in:\n%s", name, err, out)
		}
		if code != wantCode || len(s.Files) != wantFiles || len(s.Findings) != wantFindings {
			t.Errorf("%s: exit %d (want %d), linted %v (want %d files), %d findings (want %d)", name, code, wantCode, s.Files, wantFiles, len(s.Findings), wantFindings)
		}
	}

	check("NoVersionTable", 3, 0, 0) // fresh database: orders is new to 0002 and 0003
	exec("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)")
	check("EmptyVersionTable", 3, 0, 0)
	exec("INSERT INTO schema_migrations VALUES (1, false)")
	check("OrdersInProduction", 2, 3, 1)
	exec("UPDATE schema_migrations SET version = 2")
	check("OnlyThePendingOne", 1, 2, 1)
	exec("UPDATE schema_migrations SET dirty = true")
	check("DirtyVersionAgain", 2, 3, 1)
	exec("UPDATE schema_migrations SET version = 3, dirty = false")
	check("UpToDate", 0, 0, 0)

	exec("CREATE SCHEMA other; CREATE TABLE other.versions (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO other.versions VALUES (1, false)")
	check("TableFlag", 2, 3, 1, "--table", "other.versions")

	out, code := runCLI(t, "migrate", "lint", "--database-url", dbURL, "--set", "app="+ordersSet, "--table", "app=other.versions")
	if code != 1 || !strings.Contains(out, "3 findings, 0 errors in 2 files") {
		t.Errorf("--set with --table name=: exit %d\n%s", code, out)
	}

	exec("CREATE TABLE wrong (v int)")
	out, code = lintAt("--table", "wrong")
	if code != 2 || !strings.Contains(out, "reading version table wrong") {
		t.Errorf("table without a version column: exit %d\n%s", code, out)
	}

	u, _ := url.Parse(dbURL)
	u.Path = "/no_such_database_for_lint"
	out, code = runCLI(t, "migrate", "lint", "--database-url", u.String(), "--dir", ordersSet)
	if code != 2 || !strings.Contains(out, "cannot connect to the database") || !strings.Contains(out, "leave --database-url out") {
		t.Errorf("unreachable database: exit %d\n%s", code, out)
	}
}

// lintTestDatabase returns an empty database of the test's own and a
// connection to it.
func lintTestDatabase(t *testing.T, ctx context.Context) (string, *pgx.Conn) {
	t.Helper()
	url := migtest.NewURL(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return url, conn
}
