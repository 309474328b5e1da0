package eventlog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

type testBundle struct {
	pool *pgxpool.Pool
	url  string // connects to the test's own database
}

// newDB creates a database of the test's own with eventlog's migrations
// applied, and drops it at the end.
func newDB(t testing.TB) *testBundle {
	t.Helper()
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, &pglocal.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	name := "eventlog_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	pcfg, err := pgxpool.ParseConfig(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.Database = name
	pcfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), srv.URL)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	m, err := migcheck.New(pool, &migcheck.Config{Logger: quietLogger()}, eventlog.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return &testBundle{pool: pool, url: u.String()}
}

// newStore returns a Store writing as writer, closed at the end.
func newStore(t testing.TB, tb *testBundle, writer string) *eventlog.Store {
	t.Helper()
	s, err := eventlog.New(tb.pool, &eventlog.Config{Writer: writer, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func js(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func rec(v any) eventlog.NewRecord { return eventlog.NewRecord{Data: js(v)} }

func mustAppend(t testing.TB, s *eventlog.Store, st eventlog.Stream, v any) *eventlog.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), st, []eventlog.NewRecord{rec(v)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// count returns the number of records in the log.
func count(t testing.TB, tb *testBundle, where string, args ...any) int {
	t.Helper()
	var n int
	if where == "" {
		where = "true"
	}
	if err := tb.pool.QueryRow(context.Background(), "SELECT count(*) FROM eventlog_records WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// dataOf decodes a record's data into a map for comparisons.
func dataOf(t testing.TB, r *eventlog.Record) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(v)
}
