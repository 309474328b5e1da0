package pgsession_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/internal/pgsession"
)

func TestPooledTellsADirectSessionFromAPooler(t *testing.T) {
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	pb, err := pglocal.StartPgBouncer(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pb.Close() })
	pooledURL, err := pb.URL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		url  string
		want bool
	}{{"direct", srv.URL, false}, {"pgbouncer", pooledURL, true}} {
		for _, mode := range []string{"cache_statement", "exec", "simple_protocol"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				cfg, err := pgxpool.ParseConfig(tc.url)
				if err != nil {
					t.Fatal(err)
				}
				cfg.ConnConfig.DefaultQueryExecMode = map[string]pgx.QueryExecMode{
					"cache_statement": pgx.QueryExecModeCacheStatement, "exec": pgx.QueryExecModeExec,
					"simple_protocol": pgx.QueryExecModeSimpleProtocol}[mode]
				pool, err := pgxpool.NewWithConfig(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer pool.Close()
				got, err := pgsession.PoolPooled(ctx, pool)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("PoolPooled = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestExplainAddsTheQueryModeAdvice(t *testing.T) {
	dup := &pgconn.PgError{Code: "42P05", Message: `prepared statement "stmtcache_1" already exists`}
	bind := &pgconn.PgError{Code: "08P01", Message: `bind message supplies 1 parameters, but prepared statement "" requires 2`}
	other := &pgconn.PgError{Code: "42P01", Message: `relation "x" does not exist`}
	for _, tc := range []struct {
		err    error
		mode   pgx.QueryExecMode
		advice bool
	}{
		{fmt.Errorf("verify: %w", dup), pgx.QueryExecModeCacheStatement, true},
		{bind, pgx.QueryExecModeDescribeExec, true},
		{dup, pgx.QueryExecModeExec, false}, // exec prepares nothing: the advice would be wrong
		{other, pgx.QueryExecModeCacheStatement, false},
		{errors.New("connection refused"), pgx.QueryExecModeCacheStatement, false},
	} {
		got := pgsession.Explain(tc.err, tc.mode)
		if !errors.Is(got, tc.err) {
			t.Errorf("Explain(%v) = %v, which no longer wraps it", tc.err, got)
		}
		if has := strings.Contains(got.Error(), "default_query_exec_mode=exec"); has != tc.advice {
			t.Errorf("Explain(%v, %s) = %q; advice given: %v, want %v", tc.err, tc.mode, got, has, tc.advice)
		}
	}
	if pgsession.Explain(nil, pgx.QueryExecModeCacheStatement) != nil {
		t.Error("Explain(nil) is not nil")
	}
}
