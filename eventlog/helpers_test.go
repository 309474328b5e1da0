package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

type testBundle struct {
	pool *pgxpool.Pool
	url  string // connects to the test's own database
}

// newDB gives the test a database of its own with eventlog's migrations
// applied (cloned from a migrated template by migtest).
func newDB(t testing.TB) *testBundle { return newDBConns(t, 8) }

// newDBConns is newDB with a pool of up to conns connections. The server
// is shared by parallel tests (and max_connections is often 100), so only
// the tests that need many connections ask for them.
func newDBConns(t testing.TB, conns int32) *testBundle {
	t.Helper()
	url := migtest.NewURL(t, eventlog.Migrations)
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &testBundle{pool: pool, url: url}
}

// newStore returns a Store writing as writer, closed at the end. Its
// consumers take their session (lock and LISTEN) on the database's direct
// URL, past the pooler the tests may run behind; pooler_test.go tests
// consumers without one.
func newStore(t testing.TB, tb *testBundle, writer string) *eventlog.Store {
	t.Helper()
	direct, err := pgx.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eventlog.New(tb.pool, &eventlog.Config{Writer: writer, Logger: quietLogger(), Direct: direct})
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
