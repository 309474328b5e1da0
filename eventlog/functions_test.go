package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// Migration 0005 creates the append functions from the statements they
// wrap; a change to a statement without a new migration fails here.
func TestMigration0005IsTheAppendStatements(t *testing.T) {
	got, err := fs.ReadFile(eventlog.Migrations.FS, "0005_append_functions.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if want := eventlog.AppendFunctionsMigration(); string(got) != want {
		t.Fatalf("migrations/0005_append_functions.up.sql differs from the statements in functions.go; "+
			"a changed statement needs a new migration that replaces its function (CREATE OR REPLACE FUNCTION). Want:\n%s", want)
	}
}

// A Store whose pool prepares nothing calls the functions, and every pool
// append path works through them: one record, several, appends shared by
// concurrent callers, a version conflict and a retried id.
func TestAppendsThroughTheFunctions(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	// Direct: pgx's default mode does not get through a pooler (the tests
	// may run behind one); pooler_test.go covers the functions there.
	url := migtest.DirectURL(tb.url)
	for _, tc := range []struct {
		mode        pgx.QueryExecMode
		noDescCache bool   // description_cache_capacity=0
		calledIn    string // the mode the functions are called in
	}{
		// An exec or describe_exec pool calls them in cache_describe
		// (binary arrays, one round trip of an unnamed statement, which a
		// pooler passes); the other modes in their own ("default"), and
		// cache_statement runs the statements instead.
		{mode: pgx.QueryExecModeExec, calledIn: pgx.QueryExecModeCacheDescribe.String()},
		{mode: pgx.QueryExecModeDescribeExec, calledIn: pgx.QueryExecModeCacheDescribe.String()},
		// pgx refuses cache_describe with the description cache off.
		{mode: pgx.QueryExecModeExec, noDescCache: true, calledIn: "default"},
		{mode: pgx.QueryExecModeCacheDescribe, calledIn: "default"},
		{mode: pgx.QueryExecModeSimpleProtocol, calledIn: "default"},
		{mode: pgx.QueryExecModeCacheStatement},
	} {
		mode := tc.mode
		name := mode.String()
		if tc.noDescCache {
			name += "-no-description-cache"
		}
		t.Run(name, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(url)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.DefaultQueryExecMode = mode
			if tc.noDescCache {
				cfg.ConnConfig.DescriptionCacheCapacity = 0
			}
			cfg.MaxConns = 4
			calls := &callModes{modes: map[string]bool{}}
			cfg.ConnConfig.Tracer = calls
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			s, err := eventlog.New(pool, &eventlog.Config{Writer: "f", Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, want := eventlog.CallsFunctions(s), mode != pgx.QueryExecModeCacheStatement; got != want {
				t.Fatalf("calls the functions: %v, want %v", got, want)
			}
			st := eventlog.Stream{Type: "f-" + name, ID: "1"}
			if r := mustAppend(t, s, st, 1); r.Version != 1 {
				t.Fatalf("first append: %+v", r)
			}
			res, err := s.Append(ctx, st, []eventlog.NewRecord{rec(2), rec(3)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
			if err != nil || res.FirstVersion != 2 || res.Version != 3 {
				t.Fatalf("two records: %+v %v", res, err)
			}
			if _, err := s.Append(ctx, st, []eventlog.NewRecord{rec(4)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)}); !errors.As(err, new(*eventlog.VersionConflictError)) {
				t.Fatalf("a stale expected version: %v, want a version conflict", err)
			}
			again := eventlog.NewRecord{ID: "retried-" + name, Data: js(5)}
			first, err := s.Append(ctx, st, []eventlog.NewRecord{again}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if dup, err := s.Append(ctx, st, []eventlog.NewRecord{again}, nil); err != nil || !dup.Duplicate || dup.Version != first.Version {
				t.Fatalf("a retried id: %+v %v, want the first append's result", dup, err)
			}
			// Concurrent callers share statements.
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for w := range 64 {
				wg.Go(func() {
					_, err := s.Append(ctx, eventlog.Stream{Type: st.Type, ID: fmt.Sprint("c", w)}, []eventlog.NewRecord{rec(w)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(0)})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, tb, `stream_type = $1`, st.Type); n != 4+64 {
				t.Fatalf("%d records, want %d", n, 4+64)
			}
			if got := calls.sorted(); strings.Join(got, ",") != tc.calledIn {
				t.Fatalf("the functions were called in modes %q, want %q", got, tc.calledIn)
			}
		})
	}
	// The functions are what the exec-mode Store runs: without them it fails.
	if _, err := tb.pool.Exec(ctx, `DROP FUNCTION eventlog_append_one(bigint, text, text, text, text, text, text, text, bigint, text, text, text)`); err != nil {
		t.Fatal(err)
	}
	cfg, _ := pgxpool.ParseConfig(url)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, _ := eventlog.New(pool, &eventlog.Config{Writer: "f", Logger: quietLogger()})
	defer s.Close()
	if _, err := s.Append(ctx, eventlog.Stream{Type: "gone", ID: "1"}, []eventlog.NewRecord{rec(1)}, nil); err == nil || !strings.Contains(err.Error(), "eventlog_append_one") || !strings.Contains(err.Error(), "apply eventlog.Migrations") {
		t.Fatalf("append without the function: %v, want it to name eventlog_append_one and the migrations", err)
	}
}

// callModes records the query modes the append functions were called in:
// the mode passed as the call's first argument, or "default" for the
// pool's own.
type callModes struct {
	mu    sync.Mutex
	modes map[string]bool
}

func (c *callModes) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "FROM eventlog_append_") {
		mode := "default"
		if len(d.Args) > 0 {
			if m, ok := d.Args[0].(pgx.QueryExecMode); ok {
				mode = m.String()
			}
		}
		c.mu.Lock()
		c.modes[mode] = true
		c.mu.Unlock()
	}
	return ctx
}

func (c *callModes) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *callModes) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.modes))
}
