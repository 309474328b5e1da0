package migcheck_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// Behind PgBouncer in transaction mode, Apply and index builds refuse at
// once and change nothing (its lock and lock_timeout need a session), while Verify, the
// startup gate, works in the query modes the template sets.
func TestBehindAPooler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	directURL := migtest.DirectURL(migtest.NewURL(t))
	pooledURL := migtest.PgBouncer(t, directURL)
	open := func(url string, mode pgx.QueryExecMode) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.DefaultQueryExecMode = mode
		cfg.MaxConns = 2
		db, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	set := migcheck.Set{Name: "app", FS: files(
		"0001_a.up.sql", "CREATE TABLE a (id int)",
		"0002_b.up.sql", "CREATE TABLE b (id int)")}

	pooled := open(pooledURL, pgx.QueryExecModeExec)
	_, err := newMigrator(t, pooled, nil, set).Apply(ctx)
	if !errors.Is(err, migcheck.ErrPooled) || !strings.Contains(err.Error(), "direct URL") {
		t.Fatalf("Apply through the pooler: %v, want ErrPooled saying to use the direct URL", err)
	}
	var tables int
	if err := pooled.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("after the refused Apply: %d tables, %v; want none", tables, err)
	}

	if _, err := newMigrator(t, open(directURL, pgx.QueryExecModeCacheStatement), nil, set).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	// So do index builds: CREATE INDEX CONCURRENTLY runs with lock_timeout
	// lifted for it alone, in a session of its own.
	_, err = newIndexer(t, pooled, nil, "a_id.sql", "CREATE INDEX CONCURRENTLY a_id ON a (id)").Apply(ctx, nil)
	if !errors.Is(err, migcheck.ErrPooled) {
		t.Fatalf("index Apply through the pooler: %v, want ErrPooled", err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		db := open(pooledURL, mode)
		for range 3 { // the gate polls; each Verify may meet another server connection
			rep, err := newMigrator(t, db, nil, set).Verify(ctx)
			if err != nil || rep.Err() != nil {
				t.Fatalf("Verify through the pooler in %s mode: %v %v", mode, err, rep.Err())
			}
		}
		later := migcheck.Set{Name: "app", FS: files(
			"0001_a.up.sql", "CREATE TABLE a (id int)",
			"0002_b.up.sql", "CREATE TABLE b (id int)",
			"0003_c.up.sql", "CREATE TABLE c (id int)")}
		rep, err := newMigrator(t, db, nil, later).Verify(ctx)
		if err != nil || !errors.Is(rep.Err(), migcheck.ErrPending) {
			t.Fatalf("Verify of a newer build through the pooler in %s mode: %v %v, want ErrPending", mode, err, rep.Err())
		}
	}
}

// In pgx's default query mode, which prepares statements, every run behind
// PgBouncer in transaction mode gets the refusal saying to use the direct
// URL, the second as the first: the pooler check prepares nothing that the
// pooler keeps on its server connection for the next client.
func TestEveryRunBehindAPoolerIsRefusedInTheDefaultQueryMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	directURL := migtest.DirectURL(migtest.NewURL(t))
	// One server connection, so the second run meets the first one's.
	pooledURL := migtest.PgBouncerPool(t, directURL, 1)
	set := migcheck.Set{Name: "app", FS: files("0001_a.up.sql", "CREATE TABLE a (id int)")}
	for run := 1; run <= 2; run++ {
		db, err := pgxpool.New(ctx, pooledURL) // cache_statement, pgx's default
		if err != nil {
			t.Fatal(err)
		}
		_, err = newMigrator(t, db, nil, set).Apply(ctx)
		db.Close()
		if !errors.Is(err, migcheck.ErrPooled) || !strings.Contains(err.Error(), "direct URL") {
			t.Fatalf("run %d through the pooler: %v, want ErrPooled saying to use the direct URL", run, err)
		}
	}
}
