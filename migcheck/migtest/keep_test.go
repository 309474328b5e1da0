package migtest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// failingTB is a test that has failed: it collects cleanups and logs.
type failingTB struct {
	testing.TB
	cleanups []func()
	logs     []string
}

func (f *failingTB) Failed() bool      { return true }
func (f *failingTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *failingTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *failingTB) Helper() {}
func (f *failingTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestFailedTestKeepsItsDatabaseAndLogsTheURL(t *testing.T) {
	t.Parallel()
	ft := &failingTB{TB: t}
	url := migtest.NewURL(ft, app)
	ft.runCleanups()
	if len(ft.logs) != 1 || !strings.Contains(ft.logs[0], url) {
		t.Fatalf("logs %q; want one line with %s", ft.logs, url)
	}
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("kept database is gone: %v", err)
	}
	var name string
	c.QueryRow(context.Background(), "SELECT current_database()").Scan(&name)
	c.Close(context.Background())
	srv, err := pglocal.Find(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	admin, err := pgx.Connect(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name); err != nil {
		t.Fatal(err)
	}
}

// Two test binaries asking for a new template at the same moment build it
// once: the second waits on the advisory lock and then clones it.
func TestTemplateSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := make([]byte, 8)
	rand.Read(b)
	marker := hex.EncodeToString(b)
	// Both start before either is waited for.
	children := []*testchild.Child{
		testchild.StartTest(t, "TestHelperProcess", []string{marker}),
		testchild.StartTest(t, "TestHelperProcess", []string{marker}),
	}
	outs := make([]string, len(children))
	for i, c := range children {
		c.WaitPass(3 * time.Minute)
		outs[i] = c.Output()
	}
	srv, err := pglocal.Find(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	admin, err := pgx.Connect(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var builds int
	var hash8 string
	for _, o := range outs {
		if strings.Contains(o, "helper builds=1") {
			builds++
		}
		if _, after, ok := strings.Cut(o, "helper db=migtest_"); ok {
			hash8 = after[:8]
		}
	}
	if builds != 2 || hash8 == "" {
		t.Fatalf("each helper should see exactly one build of the template:\n%s\n%s", outs[0], outs[1])
	}
	// This template is used once: remove it and its ready clones.
	rows, _ := admin.Query(context.Background(), "SELECT datname FROM pg_database WHERE datname LIKE 'migtest\\_%' || $1 || '%'", hash8)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) < 2 {
		t.Fatalf("template and clones of %s: %v %v", hash8, names, err)
	}
	for _, n := range names {
		admin.Exec(context.Background(), "ALTER DATABASE "+pgx.Identifier{n}.Sanitize()+" WITH IS_TEMPLATE false")
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	}
}

// TestHelperProcess runs in the child processes of the test above.
func TestHelperProcess(t *testing.T) {
	args, ok := testchild.Args()
	if !ok {
		t.Skip("runs in the child processes of TestTemplateSharedAcrossProcesses")
	}
	marker := args[0]
	set := migcheck.Set{Name: "helper", FS: fstest.MapFS{
		// Each build of the template inserts one row; clones copy them.
		"0001_builds.up.sql": {Data: []byte("-- " + marker + "\nCREATE TABLE builds (at timestamptz DEFAULT now()); INSERT INTO builds DEFAULT VALUES; SELECT pg_sleep(0.3);")},
	}}
	db := migtest.New(t, set)
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM builds").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var name string
	db.QueryRow(context.Background(), "SELECT current_database()").Scan(&name)
	t.Logf("helper builds=%d", n)
	t.Logf("helper db=%s", name)
}
