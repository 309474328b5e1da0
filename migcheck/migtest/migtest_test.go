package migtest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

var (
	app = migcheck.Set{Name: "app", FS: fstest.MapFS{
		"0001_users.up.sql": {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY, email text);")},
	}}
	lib = migcheck.Set{Name: "lib", Table: "lib_schema_migrations", FS: fstest.MapFS{
		"0001_events.up.sql": {Data: []byte("CREATE TABLE events (id bigint PRIMARY KEY);")},
	}}
)

func TestNewGivesAMigratedDatabaseOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	names := map[string]bool{}
	for i := range 6 {
		t.Run("Parallel", func(t *testing.T) {
			t.Parallel()
			db := migtest.New(t, app, lib)
			var name string
			if err := db.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if names[name] {
				t.Errorf("database %s handed out twice", name)
			}
			names[name] = true
			mu.Unlock()
			// Migrated: both sets' tables exist and Verify is clean.
			if _, err := db.Exec(ctx, "INSERT INTO users VALUES ($1, 'x')", i); err != nil {
				t.Fatal(err)
			}
			var n int
			db.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n)
			if n != 1 {
				t.Fatalf("users has %d rows; the database is shared or dirty", n)
			}
			r, err := migcheck.Verify(ctx, db, app, lib)
			if err != nil || len(r.Problems) != 0 {
				t.Fatalf("verify: %+v %v", r, err)
			}
		})
	}
	t.Cleanup(func() {
		// Every test's database is gone once its test passed.
		srv, err := pglocal.Find(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		c, err := pgx.Connect(ctx, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for name := range names {
			var exists bool
			c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
			if exists {
				t.Errorf("database %s was not dropped", name)
			}
		}
	})
}

func TestNewWithoutSetsIsEmpty(t *testing.T) {
	t.Parallel()
	db := migtest.New(t)
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables, %v", n, err)
	}
}

func TestNewURL(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t, app)
	if !strings.Contains(url, "migtest_") {
		t.Fatalf("url %s", url)
	}
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
}
