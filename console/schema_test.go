package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// Files of the "app" set the schema tests apply. Version 2 cannot run in
// one transaction, so its failing second statement leaves the set dirty.
const (
	appV1 = "CREATE TABLE widgets (id bigint PRIMARY KEY, a int);"
	appV2 = "CREATE INDEX CONCURRENTLY widgets_a ON widgets (a);\nCREATE INDEX CONCURRENTLY widgets_b ON widgets (no_such_column);"
)

func schemaAppSet(kv ...string) migcheck.Set {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return migcheck.Set{Name: "app", FS: fsys}
}

// schemaDirtyApp applies the app set to db as a CI runner would, leaving it
// dirty at version 2.
func schemaDirtyApp(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	m, err := migcheck.New(db, &migcheck.Config{Host: "ci-runner-7", BuildVersion: "v1.2.3", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		schemaAppSet("0001_widgets.up.sql", appV1, "0002_widgets_idx.up.sql", appV2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(t.Context()); err == nil {
		t.Fatal("version 2 applied; it was meant to fail and leave the set dirty")
	}
}

func TestSchemaPage(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	schemaDirtyApp(t, db)
	// The binary the console checks for has edited version 1 and has a
	// version 3 the database lacks.
	app := schemaAppSet("0001_widgets.up.sql", appV1+"\n-- edited after it ran", "0002_widgets_idx.up.sql", appV2, "0003_more.up.sql", "SELECT 1;")
	s := serve(t, db, &console.Config{Sets: []migcheck.Set{app, eventlog.Migrations, jobs.Migrations}})
	body := s.mustGet("/schema")

	t.Run("Versions", func(t *testing.T) {
		for _, set := range []migcheck.Set{eventlog.Migrations, jobs.Migrations} {
			migs, err := set.Migrations()
			if err != nil {
				t.Fatal(err)
			}
			newest := fmt.Sprint(migs[len(migs)-1].Version)
			row := htmlElement(t, body, "tr", "set-"+set.Name)
			if htmlCell(row, "applied") != newest || htmlCell(row, "expected") != newest || !strings.Contains(row, "up to date") {
				t.Errorf("set %s: want applied and expected %s, up to date:\n%s", set.Name, newest, row)
			}
		}
		row := htmlElement(t, body, "tr", "set-app")
		if htmlCell(row, "applied") != "2" || htmlCell(row, "expected") != "3" || htmlCell(row, "pending") != "3" || !strings.Contains(row, "DIRTY") {
			t.Errorf("set app: want applied 2, expected 3, pending 3, DIRTY:\n%s", row)
		}
	})
	t.Run("DirtyWithItsFix", func(t *testing.T) {
		banner := htmlElement(t, body, "div", "dirty-app")
		text := html.UnescapeString(banner)
		for _, want := range []string{"DIRTY at version 2", "0002_widgets_idx.up.sql", "CREATE INDEX CONCURRENTLY widgets_a", `Force(ctx, "app", 2, nil)`} {
			if !strings.Contains(text, want) {
				t.Errorf("the dirty banner lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(body, `id="dirty-eventlog"`) || strings.Contains(body, `id="dirty-jobs"`) {
			t.Error("a clean set has a dirty banner")
		}
	})
	t.Run("ChecksumMismatch", func(t *testing.T) {
		rows := regexp.MustCompile(`(?s)<tr class="problem problem-checksum-mismatch">.*?</tr>`).FindAllString(body, -1)
		if len(rows) != 1 {
			t.Fatalf("%d checksum-mismatch rows, want 1:\n%s", len(rows), body)
		}
		want := migcheck.Checksum([]byte(appV1))
		if !strings.Contains(rows[0], "error") || !strings.Contains(rows[0], want) || !strings.Contains(rows[0], "restore the applied content") {
			t.Errorf("the checksum problem lacks its severity, recorded sha256 %s or fix:\n%s", want, rows[0])
		}
	})
	t.Run("HistoryNewestFirst", func(t *testing.T) {
		rows := regexp.MustCompile(`(?s)<tr class="ledger">.*?</tr>`).FindAllString(body, -1)
		var want int
		for _, set := range []migcheck.Set{eventlog.Migrations, jobs.Migrations} {
			migs, _ := set.Migrations()
			want += len(migs)
		}
		want++ // app version 1; version 2 failed and is not in the ledger
		if len(rows) != want {
			t.Fatalf("%d ledger rows, want %d", len(rows), want)
		}
		first := rows[0]
		for _, w := range []string{"<td>app</td>", "0001_widgets.up.sql", "ci-runner-7", "v1.2.3"} {
			if !strings.Contains(first, w) {
				t.Errorf("the newest ledger row lacks %q:\n%s", w, first)
			}
		}
		if !strings.Contains(rows[len(rows)-1], "migtest") {
			t.Errorf("the oldest ledger row is not the test template's:\n%s", rows[len(rows)-1])
		}
	})
}

func TestSchemaPageShowsARunningMigration(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	conn, err := db.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(t.Context(), "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1)) l", migcheck.LockKey).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migcheck.LockKey)

	s := serve(t, db, &console.Config{Sets: []migcheck.Set{eventlog.Migrations, jobs.Migrations}})
	runner := htmlElement(t, s.mustGet("/schema"), "div", "runner")
	if !strings.Contains(runner, fmt.Sprintf(`<td class="num">%d</td>`, pid)) || !strings.Contains(runner, fmt.Sprintf("pg_terminate_backend(%d)", pid)) {
		t.Errorf("the running migration's pid %d is not shown with how to end it:\n%s", pid, runner)
	}
}

func TestSchemaPageWithoutSets(t *testing.T) {
	t.Parallel()
	t.Run("ShowsTheLedger", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		schemaDirtyApp(t, db)
		body := serve(t, db, nil).mustGet("/schema")
		if !strings.Contains(body, `id="no-sets"`) || !strings.Contains(body, "Config.Sets") || !strings.Contains(body, "seatbelt console --dir") {
			t.Errorf("the page does not say it was given no sets and how to give them:\n%s", body)
		}
		if strings.Contains(body, `id="sets"`) {
			t.Error("a console without sets shows a sets table")
		}
		rows := regexp.MustCompile(`(?s)<tr class="ledger">.*?</tr>`).FindAllString(body, -1)
		if len(rows) < 2 || !strings.Contains(rows[0], "ci-runner-7") || !strings.Contains(rows[len(rows)-1], "migtest") {
			t.Errorf("the ledger is not shown newest first (%d rows):\n%s", len(rows), body)
		}
	})
	t.Run("NoLedger", func(t *testing.T) {
		t.Parallel()
		body := serve(t, migtest.New(t), nil).mustGet("/schema")
		if !strings.Contains(body, `id="no-sets"`) || !strings.Contains(body, `id="no-ledger"`) {
			t.Errorf("an empty database: want the no-sets and no-ledger notes:\n%s", body)
		}
	})
}

// The schema page's own query reads the ledger backwards on its primary
// key, however long the ledger grows.
func TestSchemaLedgerQueryUsesTheIndex(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := t.Context()
	for _, q := range []string{
		`INSERT INTO seatbelt_migration_ledger (set_name, version, file, sha256, applied_by_host, applied_by_build, duration_ms)
			SELECT 'set' || (g % 50), g, g || '_x.up.sql', md5(g::text), 'host', 'build', 1 FROM generate_series(1, 5000) g`,
		`ANALYZE seatbelt_migration_ledger`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var plan []map[string]any
	if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+console.LedgerSQL, 200).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(plan)
	if strings.Contains(string(raw), `"Seq Scan"`) || !strings.Contains(string(raw), `"Index Scan"`) {
		t.Errorf("the ledger query does not read the primary key backwards:\n%s", raw)
	}
}

// htmlElement returns the element tag with id in body, up to its first closing
// tag of the same name (the elements looked up do not nest themselves).
func htmlElement(t *testing.T, body, tag, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<` + tag + `[^>]* id="` + regexp.QuoteMeta(id) + `".*?</` + tag + `>`).FindString(body)
	if m == "" {
		t.Fatalf("no <%s id=%q> in the page:\n%s", tag, id, body)
	}
	return m
}

// htmlCell returns the text of the td with class name in row.
func htmlCell(row, class string) string {
	m := regexp.MustCompile(`<td class="[^"]*\b` + class + `\b[^"]*">([^<]*)</td>`).FindStringSubmatch(row)
	if m == nil {
		return ""
	}
	return m[1]
}
