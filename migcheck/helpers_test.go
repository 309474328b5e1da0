package migcheck_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// emptyDB gives the test an empty database of its own, dropped at the end.
func emptyDB(t testing.TB) (*pgxpool.Pool, struct{}) {
	t.Helper()
	return migtest.New(t), struct{}{}
}

// exampleDB gives an example an empty database of its own.
func exampleDB() (*pgxpool.Pool, func()) {
	url, drop := pglocal.MustCreateDatabase("migcheck")
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		panic(err)
	}
	return pool, func() { pool.Close(); drop() }
}

// files builds a set's FS from name -> SQL.
func files(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func quietConfig() *migcheck.Config {
	return &migcheck.Config{Logger: discard(), LockPoll: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond, Host: "test-host", BuildVersion: "v0.0.0-test"}
}

func newMigrator(t testing.TB, db *pgxpool.Pool, cfg *migcheck.Config, sets ...migcheck.Set) *migcheck.Migrator {
	t.Helper()
	if cfg == nil {
		cfg = quietConfig()
	}
	m, err := migcheck.New(db, cfg, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kinds(r *migcheck.Report) map[migcheck.Kind][]migcheck.Problem {
	out := map[migcheck.Kind][]migcheck.Problem{}
	for _, p := range r.Problems {
		out[p.Kind] = append(out[p.Kind], p)
	}
	return out
}

func exec(t testing.TB, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
