package migcheck_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// createDB creates an empty database of its own; drop removes it.
func createDB() (pool *pgxpool.Pool, drop func() error, err error) {
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "migcheck_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		srv.Close()
		return nil, nil, err
	}
	pcfg, err := pgxpool.ParseConfig(srv.URL)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	pcfg.ConnConfig.Database = name
	pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return pool, func() error {
		pool.Close()
		defer srv.Close()
		c, err := pgx.Connect(context.Background(), srv.URL)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}, nil
}

// emptyDB gives the test an empty database of its own, dropped at the end.
func emptyDB(t testing.TB) (*pgxpool.Pool, struct{}) {
	t.Helper()
	return migtest.New(t), struct{}{}
}

// exampleDB gives an example a database of its own.
func exampleDB() (*pgxpool.Pool, func()) {
	pool, drop, err := createDB()
	if err != nil {
		panic(err)
	}
	return pool, func() { drop() }
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

func exec(t testing.TB, db *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
